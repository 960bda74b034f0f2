// CNI GC (spec 1.1.0): deletes every endpoint this network made whose attachment is not in
// cni.dev/valid-attachments, going on past failures and reporting them all. The IPAM plugin gets
// GC when it knows it; one that does not (host-local 1.1.1) gets a DEL for each attachment removed
// here instead, in a version it speaks, so its addresses are not leaked with the endpoints.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Mvtap.Cni;

internal static class GcCommand
{
    public static void Run(CniEnvironment env, NetConf conf)
    {
        var valid = conf.ValidAttachments
                    ?? throw new CniError(CniError.InvalidConfig, "missing cni.dev/valid-attachments", "GC needs the list of attachments still valid");
        var daemon = DaemonLink.For(conf);
        var stale = daemon.All()
            .Where(v => v.Cni is { } c && c.Network == conf.Name && !valid.Contains((c.ContainerId, c.IfName)))
            .ToList();

        var ipam = conf.IpamType is { } type ? new IpamDelegate(type, env) : null;
        bool ipamGc = ipam?.SpeaksStatusAndGc(conf.CniVersion) ?? false;
        byte[]? delConfig = ipam is not null && !ipamGc ? ConfigForDel(conf, ipam) : null;
        var errors = new List<CniError>();
        foreach (var view in stale)
        {
            try
            {
                daemon.Delete(view.Name);
                if (delConfig is not null) ipam!.DelAttachment(delConfig, view.Cni!.ContainerId, view.Cni.IfName);
            }
            catch (CniError e) { errors.Add(e); }
        }
        if (ipamGc)
        {
            try { ipam!.Gc(conf.Raw); }
            catch (CniError e) { errors.Add(e); }
        }
        if (errors.Count > 0)
            throw new CniError(errors[0].Code, $"GC removed {stale.Count - errors.Count} of {stale.Count} stale endpoints",
                string.Join("; ", errors.Select(e => $"{e.Message} {e.Details}".Trim())));
    }

    // The configuration without GC's list, at the newest version the IPAM plugin lists (DEL exists in all).
    private static byte[] ConfigForDel(NetConf conf, IpamDelegate ipam)
    {
        var version = ipam.SupportedVersions(conf.CniVersion)
            .Where(v => CniVersions.Parse(v) is not null && CniVersions.AtLeast(conf.CniVersion, v))
            .OrderByDescending(v => CniVersions.Parse(v))
            .FirstOrDefault()
            ?? throw new CniError(CniError.IncompatibleVersion, $"IPAM plugin {ipam.Type} speaks no version up to {conf.CniVersion}");
        var node = JsonNode.Parse(conf.Raw)!.AsObject();
        node.Remove("cni.dev/valid-attachments");
        node["cniVersion"] = version;
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) node.WriteTo(w);
        return ms.ToArray();
    }
}
