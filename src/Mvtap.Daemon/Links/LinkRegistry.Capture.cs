// `mvtap capture`: which datapath carries each name a capture asks for. A name is an endpoint (its
// own frames) or a lower mvtapd holds (every frame its wire carries, both ways); only lowers with
// an AF_PACKET datapath carry frames to capture (a sim lower has none). The request is outside
// input: every field is checked before anything starts.
using Mvtap.Control;
using Mvtap.Control.Capture;
using Mvtap.Core.Model;
using Mvtap.Daemon.Lowers;
using Mvtap.Datapath;

namespace Mvtap.Daemon.Links;

/// <summary>One captured interface: its name and description for the capture's interface block,
/// the datapath thread that sees its frames, and the endpoint (null: the lower's wire).</summary>
public sealed record CaptureTarget(string Name, string Description, LowerDatapath Datapath, Endpoint? Endpoint);

public sealed partial class LinkRegistry
{
    /// <summary>The captured interfaces of <paramref name="request"/>, in its order (each name once), or
    /// an MvtapException in ip's words (an unknown name: ENODEV; a sim lower: EOPNOTSUPP).</summary>
    public IReadOnlyList<CaptureTarget> ResolveCapture(CaptureRequest request)
    {
        if (request.Names is not { Count: > 0 } names) throw new MvtapException(Errno.EINVAL, ControlRequest.NotGiven("dev"));
        if (names.Count > CaptureLimits.MaxNames) throw new MvtapException(Errno.EINVAL, $"at most {CaptureLimits.MaxNames} interfaces in one capture");
        if (request.Direction is not (null or "in" or "out"))
            throw new MvtapException(Errno.EINVAL, $"direction \"{InterfaceNames.Printable(request.Direction)}\" is not in or out");
        if (request.Count is < 1) throw new MvtapException(Errno.EINVAL, $"count {request.Count} is not a positive number");
        if (request.Snaplen is < 1 or > CaptureLimits.MaxSnaplen)
            throw new MvtapException(Errno.EINVAL, $"snaplen {request.Snaplen} is not between 1 and {CaptureLimits.MaxSnaplen}");
        lock (_gate)
        {
            var targets = new List<CaptureTarget>();
            foreach (var name in names)
            {
                RequestValues.Given(name ?? "");
                RequestValues.Name(name!, "dev");
                if (targets.Exists(t => t.Name == name)) continue;
                targets.Add(Target(name!));
            }
            return targets;
        }
    }

    // under _gate
    private CaptureTarget Target(string name)
    {
        if (FindRecord(name) is { } record)
        {
            if (record.Lower is not PacketLowerHost packet)
                throw new MvtapException(Errno.EOPNOTSUPP, $"{name} is on {record.Lower.Name}, a {record.Lower.Kind} lower: it carries no frames to capture");
            return new(name, $"mvtap {record.TypeName} endpoint on {record.Lower.Name}", packet.Datapath, record.Endpoint);
        }
        if (_lowers.Find(l => l.Name == name) is { } lower)
        {
            if (lower is not PacketLowerHost packet)
                throw new MvtapException(Errno.EOPNOTSUPP, $"{name} is a {lower.Kind} lower: it carries no frames to capture");
            return new(name, "mvtap lower (its wire, both ways)", packet.Datapath, null);
        }
        throw new MvtapException(Errno.ENODEV, $"Cannot find device \"{InterfaceNames.Printable(name)}\"");
    }
}
