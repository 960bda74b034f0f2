// CNI ADD: asks mvtapd for the attachment's endpoint, then, as the reference macvlan plugin does,
// runs the IPAM plugin and configures the container's NIC with its result. A failure after the
// endpoint exists undoes what was done (IPAM DEL, endpoint deleted), so a refused ADD leaves
// nothing behind.
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Cni;

internal static class AddCommand
{
    public static byte[] Run(CniEnvironment env, NetConf conf)
    {
        var who = new CniAttachment { ContainerId = env.ContainerId, IfName = env.IfName, Network = conf.Name };
        string netns = NamespacePath.ToName(env.Netns!);
        if (!NamespacePath.Exists(env.Netns!))
            throw new CniError(CniError.InvalidEnvironment, $"CNI_NETNS {env.Netns} does not exist");
        if (NamespacePath.IsOwn(netns))
            throw new CniError(CniError.InvalidEnvironment, $"CNI_NETNS {env.Netns} is the plugin's own network namespace");
        string master = conf.Master ?? DefaultMaster();
        var daemon = DaemonLink.For(conf);

        var request = new LinkAddRequest
        {
            Lower = master,
            Name = DaemonLink.EndpointName(who),
            Mode = conf.Mode,
            Address = conf.Mac,
            Mtu = conf.Mtu > 0 ? conf.Mtu : null,
            BcQueueLen = conf.BcQueueLen,
            MacaddrOperation = conf.Macaddrs.Count > 0 ? MacaddrOperation.Set.Name() : null,
            Macaddrs = conf.Macaddrs.Count > 0 ? conf.Macaddrs : null,
            SpoofCheck = conf.SpoofCheck,
            Cni = who,
        };
        string? socketPath = null;
        request = conf.Endpoint switch
        {
            // the NIC is made down: arp_notify must be set before it comes up
            EndpointType.Macvlan => request with { Type = LinkWords.Macvlan, Netns = netns, Up = false },
            EndpointType.VhostUser => request with
            {
                Type = LinkWords.Macvtap, Owner = conf.Owner, Group = conf.Group, Up = true, GuestMemory = conf.GuestMemory,
                VhostUserPath = socketPath = PrepareSocket(conf, env),
            },
            _ => request with { Type = LinkWords.Macvtap, Netns = netns, TapName = env.IfName, Owner = conf.Owner, Group = conf.Group, Up = true },
        };
        var view = daemon.Add(request);

        var ipam = conf.IpamType is { } type ? new IpamDelegate(type, env) : null;
        bool ipamAdded = false;
        try
        {
            var result = conf.PrevResult is { } prev ? CniResultReader.Parse(prev, "prevResult") : new CniResult();
            result = result with { Dns = conf.Dns ?? result.Dns };
            result.Interfaces.Add(new CniInterface(env.IfName, view.Mac, view.Mtu, env.Netns,
                SocketPath: conf.Endpoint == EndpointType.VhostUser ? view.VhostUserPath ?? socketPath : null));
            int index = result.Interfaces.Count - 1;
            if (ipam is not null)
            {
                var allocated = ipam.Add(conf.Raw);
                ipamAdded = true;
                if (allocated.Ips.Count == 0) throw new CniError(CniError.Internal, "IPAM plugin returned missing IP config");
                result.Ips.AddRange(allocated.Ips.Select(ip => ip with { Interface = index }));
                result.Routes.AddRange(allocated.Routes);
            }
            if (conf.Endpoint == EndpointType.Macvlan)
            {
                if (ipam is not null)
                {
                    ContainerInterface.SetNotify(netns, env.IfName);
                    ContainerInterface.Configure(netns, env.IfName, index, result);
                }
                else ContainerInterface.SetUp(netns, env.IfName);
            }
            if (conf.Endpoint == EndpointType.VhostUser && conf.DeviceInfoFile is { } file)
                DeviceInfoFile.WriteVhostUser(file, view.VhostUserPath ?? socketPath!);
            return CniResultWriter.Result(result, conf.CniVersion);
        }
        catch
        {
            if (ipamAdded) try { ipam!.Del(conf.Raw); } catch (CniError) { /* already failing */ }
            try { daemon.Delete(view.Name); } catch (CniError) { /* already failing */ }
            throw;
        }
    }

    /// <summary>The vhost-user socket's path in socketDir (made, root's and 0755, when missing):
    /// the container id's first 12 characters and the ifname, as runtimes shorten ids.</summary>
    private static string PrepareSocket(NetConf conf, CniEnvironment env)
    {
        string file = $"{env.ContainerId[..Math.Min(12, env.ContainerId.Length)]}-{env.IfName}.sock";
        string path = Path.Combine(conf.SocketDir, file);
        if (System.Text.Encoding.UTF8.GetByteCount(path) > 107)
            throw new CniError(CniError.InvalidConfig, $"invalid socketDir \"{conf.SocketDir}\"",
                $"the socket path {path} is longer than sun_path's 107 bytes");
        if (!Directory.Exists(conf.SocketDir))
            Directory.CreateDirectory(conf.SocketDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return path;
    }

    private static string DefaultMaster()
    {
        using var rtnl = new Mvtap.Linux.Netlink.Rtnetlink();
        return rtnl.DefaultRouteInterface()
               ?? throw new CniError(CniError.InvalidConfig, "no master given and no default route interface found");
    }
}
