// Which CNI attachment made an endpoint: the container runtime's (CNI_CONTAINERID, CNI_IFNAME)
// and the network's name. The CNI plugin sends it with `link add`; mvtapd keeps it in its state
// (so DEL, CHECK and GC find the endpoint again after a restart) and shows it in `link show -d`.
// A field missing from the request or JSON null is "" (setters: see ControlRequest.cs), which
// Problem() refuses.
namespace Mvtap.Control;

public sealed record CniAttachment
{
    /// <summary>Longest container id, interface or network name mvtapd keeps (runtimes use 64-hex ids).</summary>
    public const int MaxFieldLength = 256;

    /// <summary>CNI_CONTAINERID.</summary>
    public string ContainerId { get; set => field = value ?? ""; } = "";
    /// <summary>CNI_IFNAME: the interface's name as the container (or VM) sees it.</summary>
    public string IfName { get; set => field = value ?? ""; } = "";
    /// <summary>The network configuration's `name`.</summary>
    public string Network { get; set => field = value ?? ""; } = "";

    /// <summary>Why this attachment is unusable, or null when it is fine: every field present, printable and bounded.</summary>
    public string? Problem()
    {
        foreach (var (field, value) in new[] { ("container id", ContainerId), ("ifname", IfName), ("network", Network) })
        {
            if (string.IsNullOrEmpty(value)) return $"the CNI attachment's {field} is empty";
            if (value.Length > MaxFieldLength) return $"the CNI attachment's {field} is longer than {MaxFieldLength} characters";
            foreach (char c in value)
                if (char.IsControl(c) || char.IsWhiteSpace(c)) return $"the CNI attachment's {field} contains a space or control character";
        }
        return null;
    }

    /// <summary>Same attachment: container id, ifname and network all equal.</summary>
    public bool Is(string containerId, string ifName, string network) =>
        ContainerId == containerId && IfName == ifName && Network == network;
}
