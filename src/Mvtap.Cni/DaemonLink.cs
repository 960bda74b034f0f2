// The plugin's conversation with mvtapd over its control socket (NetConf runDir): add, find and
// delete the endpoint of one CNI attachment. An endpoint is named after its attachment (a hash
// of network, container id and ifname, so every command finds it in one request) and carries the
// attachment itself, which is what is trusted: a renamed endpoint is still found by it. mvtapd's
// silence is error 11 (try again later; STATUS says 50 itself); its refusals read as ip's.
using System.Security.Cryptography;
using System.Text;
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Cni;

internal sealed class DaemonLink(ControlClient client)
{
    public static DaemonLink For(NetConf conf, TimeSpan? timeout = null) =>
        new(new ControlClient(conf.SocketPath, timeout ?? TimeSpan.FromSeconds(30)));

    /// <summary>"cni" and 12 hex digits of SHA-256 over network, container id and ifname: 15 characters, IFNAMSIZ's limit.</summary>
    public static string EndpointName(CniAttachment who)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{who.Network}\0{who.ContainerId}\0{who.IfName}"));
        return "cni" + Convert.ToHexStringLower(hash)[..12];
    }

    public LinkView Add(LinkAddRequest request)
    {
        var response = Send(request);
        return response.Links is [var view, ..] ? view
            : throw new CniError(CniError.Internal, "mvtapd answered link add without the endpoint");
    }

    /// <summary>The endpoint of this attachment, or null when mvtapd has none.</summary>
    public LinkView? Find(CniAttachment who)
    {
        var name = EndpointName(who);
        var response = Call(new LinkShowRequest { Name = name });
        if (response.Ok && response.Links is [var view, ..] && view.Cni is { } c && c.Is(who.ContainerId, who.IfName, who.Network))
            return view;
        if (!response.Ok && response.Error?.Errno != (int)Errno.ENODEV) throw Refused(response.Error!);
        // renamed by hand (link set NAME name NEW): look through them all
        return All().FirstOrDefault(v => v.Cni is { } a && a.Is(who.ContainerId, who.IfName, who.Network));
    }

    public List<LinkView> All() => Send(new LinkShowRequest()).Links ?? [];

    /// <summary>Deletes the endpoint; one that is already gone is fine (DEL is idempotent).</summary>
    public void Delete(string name)
    {
        var response = Call(new LinkDelRequest { Name = name });
        if (!response.Ok && response.Error?.Errno != (int)Errno.ENODEV) throw Refused(response.Error!);
    }

    private ControlResponse Send(ControlRequest request)
    {
        var response = Call(request);
        return response.Ok ? response : throw Refused(response.Error!);
    }

    private ControlResponse Call(ControlRequest request)
    {
        try
        {
            return client.Send(request);
        }
        catch (ControlProtocolException e)
        {
            throw new CniError(CniError.TryAgainLater, $"mvtapd does not answer at {client.SocketPath}", e.Message);
        }
    }

    /// <summary>A refusal in ip's words ("Error: ..."): a bad value of the configuration is error 7,
    /// something mvtapd cannot do yet error 2 (unsupported field), anything else error 101.</summary>
    public static CniError Refused(ControlError e)
    {
        string msg = "Error: " + (e.Message.EndsWith('.') ? e.Message : e.Message + ".");
        int code = (Errno)e.Errno switch
        {
            Errno.ENODEV or Errno.EINVAL or Errno.ERANGE or Errno.EADDRNOTAVAIL => CniError.InvalidConfig,
            Errno.EOPNOTSUPP => CniError.UnsupportedField,
            _ => CniError.Refused,
        };
        return new CniError(code, msg, $"mvtapd refused the request with errno {e.Errno}");
    }
}
