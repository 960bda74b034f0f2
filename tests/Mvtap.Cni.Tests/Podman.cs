// podman 4.3 with its CNI backend, entirely in directories of the test's own: storage root and
// run root (vfs), libpod's temporary directory, the network configuration directory, and a
// containers.conf whose cni_plugin_dirs names the plugin's directory before /usr/lib/cni. The
// image is a busybox-static tree imported from a tarball (no registry). runc and cgroupfs, since
// crun refuses this machine's hybrid cgroups; ulimits within what this machine allows. Dispose
// removes every container, the image and the directories.
namespace Mvtap.Cni.Tests;

internal sealed class Podman : IDisposable
{
    private readonly string _dir;
    private readonly Dictionary<string, string> _env;

    public Podman(string prefix, string pluginDir)
    {
        _dir = Directory.CreateTempSubdirectory($"{prefix}-podman-").FullName;
        NetworkDir = Path.Combine(_dir, "net.d");
        Directory.CreateDirectory(NetworkDir);
        string conf = Path.Combine(_dir, "containers.conf");
        File.WriteAllText(conf, $"[network]\ncni_plugin_dirs = [\"{pluginDir}\", \"/usr/lib/cni\"]\n");
        _env = new() { ["CONTAINERS_CONF"] = conf };
        Image = $"localhost/{prefix}:1";
        try { Import(); }
        catch { Dispose(); throw; }
    }

    public string NetworkDir { get; }
    public string Image { get; }

    private string[] Global =>
    [
        "--root", Path.Combine(_dir, "root"), "--runroot", Path.Combine(_dir, "runroot"), "--tmpdir", Path.Combine(_dir, "tmp"),
        "--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--network-backend", "cni",
        "--network-config-dir", NetworkDir, "--events-backend", "none",
    ];

    private void Import()
    {
        string tree = Path.Combine(_dir, "image"), bin = Path.Combine(tree, "bin");
        Directory.CreateDirectory(bin);
        File.Copy("/bin/busybox", Path.Combine(bin, "busybox"));
        foreach (var applet in new[] { "sh", "ping", "sleep", "ip", "cat" })
            File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
        string tar = Path.Combine(_dir, "image.tar");
        Sh.Must("tar", "-C", tree, "-cf", tar, ".");
        Must(300, "import", tar, Image);
    }

    /// <summary>A network of one plugin, as a .conflist in the network directory.</summary>
    public void AddNetwork(string name, string pluginConf) =>
        File.WriteAllText(Path.Combine(NetworkDir, $"{name}.conflist"),
            $"{{\"cniVersion\":\"1.0.0\",\"name\":\"{name}\",\"plugins\":[{pluginConf}]}}");

    /// <summary>Starts a container on the network; returns its id.</summary>
    public string Run(string name, string network) =>
        Must(300, "run", "-d", "--name", name, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
            "--network", network, Image, "sleep", "3600").Trim();

    public (int Status, string Output) Exec(string name, params string[] command) =>
        Sh.TryWith(_env, 120, "podman", [.. Global, "exec", name, .. command]);

    public bool Ping(string name, string address) => Exec(name, "ping", "-c", "3", "-W", "2", address).Status == 0;

    /// <summary>The container's IPv4 address on eth0.</summary>
    public string Address(string name)
    {
        var (_, output) = Exec(name, "ip", "-4", "-o", "addr", "show", "eth0");
        var words = output.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int at = Array.IndexOf(words, "inet");
        return at >= 0 ? words[at + 1].Split('/')[0] : throw new InvalidOperationException($"{name} has no IPv4 address on eth0: {output}");
    }

    public void Restart(string name) => Must(300, "restart", name);
    public void Remove(string name) => Must(300, "rm", "-f", name);

    public string Must(int seconds, params string[] args) => Sh.MustWith(_env, seconds, "podman", [.. Global, .. args]);

    public void Dispose()
    {
        Sh.TryWith(_env, 300, "podman", [.. Global, "rm", "-f", "-a"]);
        Sh.TryWith(_env, 300, "podman", [.. Global, "rmi", "-f", "-a"]);
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
