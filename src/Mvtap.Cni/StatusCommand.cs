// CNI STATUS (spec 1.1.0): ready when mvtapd answers on its control socket (error 50 when it does
// not: no ADD could be served), and when the IPAM plugin is ready too, if it knows STATUS.
namespace Mvtap.Cni;

internal static class StatusCommand
{
    public static void Run(CniEnvironment env, NetConf conf)
    {
        try
        {
            DaemonLink.For(conf, TimeSpan.FromSeconds(5)).All();
        }
        catch (CniError e)
        {
            throw new CniError(CniError.NotAvailable, $"mvtapd is not available at {conf.SocketPath}", $"{e.Message}: {e.Details}");
        }
        if (conf.IpamType is { } type)
        {
            var ipam = new IpamDelegate(type, env);
            if (ipam.SpeaksStatusAndGc(conf.CniVersion)) ipam.Status(conf.Raw);
        }
    }
}
