// CNI DEL: releases the IPAM allocation (as the reference macvlan plugin, first) and deletes the
// attachment's endpoint. Idempotent: an endpoint already gone, a namespace already gone, or an
// mvtapd restarted since ADD (it kept the attachment in its state) are all fine. Only an mvtapd
// that does not answer fails it (error 11), since the endpoint would otherwise be left behind.
using Mvtap.Control;

namespace Mvtap.Cni;

internal static class DelCommand
{
    public static void Run(CniEnvironment env, NetConf conf)
    {
        if (conf.IpamType is { } type) new IpamDelegate(type, env).Del(conf.Raw);
        var who = new CniAttachment { ContainerId = env.ContainerId, IfName = env.IfName, Network = conf.Name };
        var daemon = DaemonLink.For(conf);
        if (daemon.Find(who) is { } view) daemon.Delete(view.Name);
        else daemon.Delete(DaemonLink.EndpointName(who)); // one mvtapd kept but could not restore (its namespace went)
        if (conf.DeviceInfoFile is { } file) DeviceInfoFile.Remove(file);
    }
}
