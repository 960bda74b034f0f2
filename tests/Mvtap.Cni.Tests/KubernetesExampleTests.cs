// The examples in dist/kubernetes cannot rot: every NetworkAttachmentDefinition's config goes
// through the plugin's own configuration parsing, and the DaemonSet is checked against them (its
// init container installs the plugin; mvtapd's run directory is the configs' runDir; a vhost-user
// config's socketDir and the nodes' /run/netns are mounted into mvtapd at the same paths).
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Mvtap.Cni.Tests;

public sealed class KubernetesExampleTests
{
    private static string Dir => Path.Combine(InstalledPlugin.RepoRoot, "dist", "kubernetes");

    private static IEnumerable<YamlMappingNode> Documents()
    {
        foreach (var file in Directory.GetFiles(Dir, "*.yaml").Order())
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(File.ReadAllText(file)));
            foreach (var doc in stream.Documents) yield return (YamlMappingNode)doc.RootNode;
        }
    }

    private static string Scalar(YamlNode node, params string[] path)
    {
        foreach (var key in path) node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        return ((YamlScalarNode)node).Value!;
    }

    private static YamlSequenceNode Sequence(YamlNode node, params string[] path)
    {
        foreach (var key in path) node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        return (YamlSequenceNode)node;
    }

    private static List<(string Name, NetConf Conf)> Attachments() =>
        [.. Documents().Where(d => Scalar(d, "kind") == "NetworkAttachmentDefinition")
            .Select(d => (Scalar(d, "metadata", "name"), NetConfParser.Parse(Encoding.UTF8.GetBytes(Scalar(d, "spec", "config")))))];

    [Fact]
    public void Every_network_attachment_definition_is_a_config_the_plugin_accepts()
    {
        var nads = Attachments();
        Assert.Equal(["mvtap-kubevirt-tap", "mvtap-pod-nic", "mvtap-vhost-user"], nads.Select(n => n.Name).Order());
        foreach (var (name, conf) in nads)
        {
            Assert.Equal("mvtap", conf.Type);
            Assert.Equal(name, conf.Name);
            Assert.True(CniVersions.IsSupported(conf.CniVersion), $"{name}: cniVersion {conf.CniVersion}");
        }
        Assert.Equal(EndpointType.Macvlan, nads.Single(n => n.Name == "mvtap-pod-nic").Conf.Endpoint);
        Assert.Equal(EndpointType.Tap, nads.Single(n => n.Name == "mvtap-kubevirt-tap").Conf.Endpoint);
        var vhost = nads.Single(n => n.Name == "mvtap-vhost-user").Conf;
        Assert.Equal((EndpointType.VhostUser, "107", "107"), (vhost.Endpoint, vhost.Owner, vhost.Group));
    }

    [Fact]
    public void The_daemonset_installs_the_plugin_and_shares_with_it_what_the_configs_name()
    {
        var ds = Documents().Single(d => Scalar(d, "kind") == "DaemonSet");
        var pod = (YamlMappingNode)((YamlMappingNode)ds["spec"])["template"]["spec"];
        Assert.Equal("true", Scalar(pod, "hostNetwork"));
        var init = (YamlMappingNode)Sequence(pod, "initContainers")[0];
        Assert.Equal(["mvtap", "cni", "install"], Sequence(init, "command").Take(3).Select(n => ((YamlScalarNode)n).Value));
        string installDir = Sequence(init, "command").Select(n => ((YamlScalarNode)n).Value).Last()!;
        Assert.Contains(Sequence(init, "volumeMounts"), m => Scalar(m, "mountPath") == installDir);

        var daemon = (YamlMappingNode)Sequence(pod, "containers")[0];
        var command = Sequence(daemon, "command").Select(n => ((YamlScalarNode)n).Value!).ToList();
        Assert.Equal("mvtapd", command[0]);
        string runDir = command[command.IndexOf("--run-dir") + 1];
        var mounts = Sequence(daemon, "volumeMounts").Select(m => Scalar(m, "mountPath")).ToList();
        var hostPaths = Sequence(pod, "volumes").ToDictionary(v => Scalar(v, "name"), v => Scalar(v, "hostPath", "path"));
        var mountedFromHost = Sequence(daemon, "volumeMounts").ToDictionary(m => Scalar(m, "mountPath"), m => hostPaths[Scalar(m, "name")]);
        Assert.Equal("/run/netns", mountedFromHost["/run/netns"]);
        foreach (var (name, conf) in Attachments())
        {
            Assert.True(conf.RunDir == runDir && mountedFromHost[runDir] == runDir, $"{name}: runDir {conf.RunDir} is not mvtapd's {runDir}");
            if (conf.Endpoint == EndpointType.VhostUser)
                Assert.True(mountedFromHost.TryGetValue(conf.SocketDir, out var host) && host == conf.SocketDir,
                    $"{name}: socketDir {conf.SocketDir} is not mounted into mvtapd at the same path");
        }
    }
}
