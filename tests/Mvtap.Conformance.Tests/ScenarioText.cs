// A scenario in readable form, as the commands a user would type: "switch:" lines are `ip link ...`
// on the kernel's side and the same `mvtap link ...` on mvtap's (mvtap speaks ip's grammar); "host:"
// lines are `ip` in the lower's namespace on both sides (a container runtime moving the NIC); "c-eN:"
// lines run inside endpoint eN's container (`ip -n c-eN ...`), the same on both sides; "send" lines
// are the crafted frames, numbered as they are tagged. Enough to replay a disagreement by hand.
using System.Text;
using Mvtap.Core.Model;
using Mvtap.Datapath.Tests.E2e;
using static Mvtap.Conformance.Tests.Addresses;

namespace Mvtap.Conformance.Tests;

internal static class ScenarioText
{
    public static string Describe(Scenario sc)
    {
        var text = new StringBuilder();
        text.AppendLine($"seed {sc.Seed}: lower low0, the wire {(sc.Relay ? "a bridge port with hairpin on (reflective relay)" : "a plain veth peer (no relay)")}");
        foreach (var step in sc.Steps)
        {
            if (step is FramesStep batch)
            {
                text.AppendLine($"  -- batch {batch.Batch}: {batch.Frames.Count} frames, then wait until they settle");
                foreach (var f in batch.Frames) text.AppendLine("  " + Frame(f));
            }
            else
            {
                text.AppendLine("  " + Command(step));
            }
        }
        return text.ToString();
    }

    public static string Command(Step step) => step switch
    {
        CreateStep c => $"switch: link add link low0 name {c.Name}{(c.Mac is { } m ? $" address {m}" : "")} type macvlan mode {c.Mode.Name()}"
            + ((c.Flags & EndpointFlags.NoDst) != 0 ? " nodst" : ""),
        MoveStep { ByRuntime: true } m => $"host: ip link set {m.Name} netns c-{m.Name}",
        MoveStep m => $"switch: link set {m.Name} netns c-{m.Name}",
        UpDownStep { Inside: true } u => $"c-{u.Name}: ip link set {u.Name} {(u.Up ? "up" : "down")}",
        UpDownStep u => $"switch: link set {u.Name} {(u.Up ? "up" : "down")}",
        ModeStep m => $"switch: link set {m.Name} type macvlan mode {m.Mode.Name()}",
        NoDstStep n => $"switch: link set {n.Name} type macvlan nodst",
        SourcesStep s => $"switch: link set {s.Name} type macvlan macaddr {OpName(s.Op)}{string.Concat(s.Macs.Select(x => " " + x))}"
            + (s.Macs.Count > 0 ? $"   # {string.Join(' ', s.Macs.Select(Name))}" : ""),
        JoinStep { BySocket: true } j => $"c-{j.Name}: packet socket on {j.Name}: PACKET_ADD_MEMBERSHIP PACKET_MR_MULTICAST {j.Group}",
        JoinStep j => $"c-{j.Name}: ip maddr add {j.Group} dev {j.Name}",
        FlagStep { BySocket: true } f => $"c-{f.Name}: packet socket on {f.Name}: PACKET_ADD_MEMBERSHIP PACKET_MR_{(f.Promisc ? "PROMISC" : "ALLMULTI")}",
        FlagStep f => $"c-{f.Name}: ip link set {f.Name} {(f.Promisc ? "promisc" : "allmulticast")} on",
        _ => step.ToString(),
    };

    private static string OpName(MacaddrOperation op) => op switch
    {
        MacaddrOperation.Add => "add",
        MacaddrOperation.Delete => "del",
        MacaddrOperation.Set => "set",
        _ => "flush",
    };

    /// <summary>"send #7 from wire: dst ... src ... type 88b5 vlan 5 len 60".</summary>
    public static string Frame(FrameSpec f)
    {
        var b = f.Bytes;
        int at = b[12] == 0x81 && b[13] == 0x00 ? 16 : 12;
        string vlan = at == 16 ? $" vlan {(b[14] << 8 | b[15]) & 0xFFF} prio {b[14] >> 5}" : "";
        return $"send #{f.Number} from {f.From}: dst {Show(f.Destination)} src {Show(f.Source)} type {b[at]:x2}{b[at + 1]:x2}{vlan} len {b.Length}";
    }

    /// <summary>The frame's number from its tag (FrameObserver.TagOf), or -1.</summary>
    public static int NumberOf(ReadOnlySpan<byte> frame) => FrameObserver.TagOf(frame) is uint tag ? (int)(tag & 0xFFFF) : -1;
}
