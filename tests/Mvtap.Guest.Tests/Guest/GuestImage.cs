// Builds the test guest from Debian packages only, once, into a cache directory: Debian's cloud
// kernel (vmlinuz and the virtio modules, which that kernel builds as modules) unpacked with
// dpkg-deb instead of installed, and a gzip'd cpio initramfs of busybox-static plus Guest/init.sh
// and Guest/udhcpc.sh (the DHCP client's event script).
// Later runs reuse the cache; the initramfs is keyed by a hash of its contents, so a changed
// init script makes a new one.
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Mvtap.Guest.Tests.Guest;

internal sealed record GuestImage(string Kernel, string Initrd)
{
    /// <summary>The package whose dependency names the current cloud kernel.</summary>
    public const string KernelMetaPackage = "linux-image-cloud-amd64";
    public const string BusyboxPackage = "busybox-static";
    // The guest NIC's driver and the transport it sits on; their dependencies are read from the
    // modules themselves, since the package ships no modules.dep.
    private static readonly string[] RootModules = ["virtio_pci", "virtio_net"];

    private static readonly Lazy<GuestImage> Cached = new(Build);

    public static string CacheDir =>
        Environment.GetEnvironmentVariable("MVTAP_GUEST_CACHE") is { Length: > 0 } d ? d : "/var/cache/mvtap-test-guest";

    /// <summary>The image, built on first use in this process (and cached across processes).</summary>
    public static GuestImage Get() => Cached.Value;

    private static GuestImage Build()
    {
        Directory.CreateDirectory(CacheDir);
        // Parallel test processes (or runs) must not unpack into the same place at once.
        using var gate = LockFile(Path.Combine(CacheDir, ".lock"));
        var kernelDir = Path.Combine(CacheDir, "kernel");
        if (!File.Exists(Path.Combine(kernelDir, "vmlinuz"))) UnpackKernel(kernelDir);
        var busybox = Busybox();
        var modules = File.ReadAllLines(Path.Combine(kernelDir, "modules"));

        var init = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Guest", "init.sh"));
        var udhcpc = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Guest", "udhcpc.sh"));
        var key = Convert.ToHexString(SHA256.HashData([.. init, .. udhcpc, .. File.ReadAllBytes(busybox), .. Encoding.UTF8.GetBytes(string.Join(',', modules))]))[..16];
        var initrd = Path.Combine(CacheDir, $"initrd-{key.ToLowerInvariant()}.gz");
        if (!File.Exists(initrd))
        {
            var cpio = new Cpio();
            foreach (var d in new[] { "bin", "dev", "proc", "sys", "lib", "lib/modules" }) cpio.Directory(d);
            cpio.CharDevice("dev/console", 5, 1);
            cpio.File("bin/busybox", File.ReadAllBytes(busybox), executable: true);
            cpio.Symlink("bin/sh", "busybox");
            cpio.File("init", init, executable: true);
            cpio.File("udhcpc.sh", udhcpc, executable: true);
            cpio.File("modules", Encoding.ASCII.GetBytes(string.Join('\n', modules) + "\n"), executable: false);
            foreach (var m in modules)
                cpio.File($"lib/modules/{m}.ko", File.ReadAllBytes(Path.Combine(kernelDir, $"{m}.ko")), executable: false);
            var tmp = initrd + $".{Environment.ProcessId}.tmp";
            using (var f = File.Create(tmp))
            using (var gz = new GZipStream(f, CompressionLevel.Optimal))
                gz.Write(cpio.Finish());
            File.Move(tmp, initrd, overwrite: true);
        }
        return new GuestImage(Path.Combine(kernelDir, "vmlinuz"), initrd);
    }

    private static void UnpackKernel(string kernelDir)
    {
        var package = KernelPackage();
        var work = Path.Combine(CacheDir, $"work-{Environment.ProcessId}");
        if (Directory.Exists(work)) Directory.Delete(work, true);
        try
        {
            var root = Unpack(package, work);
            var staging = kernelDir + ".new";
            if (Directory.Exists(staging)) Directory.Delete(staging, true);
            Directory.CreateDirectory(staging);
            var vmlinuz = Directory.GetFiles(Path.Combine(root, "boot"), "vmlinuz-*").Single();
            File.Copy(vmlinuz, Path.Combine(staging, "vmlinuz"));
            var byName = Directory.GetFiles(Path.Combine(root, "lib", "modules"), "*.ko", SearchOption.AllDirectories)
                .ToDictionary(p => Path.GetFileNameWithoutExtension(p).Replace('-', '_'));
            var order = new List<string>();
            foreach (var m in RootModules) AddWithDependencies(m, byName, order);
            foreach (var m in order) File.Copy(byName[m], Path.Combine(staging, $"{m}.ko"));
            File.WriteAllLines(Path.Combine(staging, "modules"), order);
            File.WriteAllText(Path.Combine(staging, "package"), package + "\n");
            if (Directory.Exists(kernelDir)) Directory.Delete(kernelDir, true);
            Directory.Move(staging, kernelDir);
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, true);
        }
    }

    // Dependencies first (post-order), each once; a module that is not in the package is built in.
    private static void AddWithDependencies(string module, Dictionary<string, string> byName, List<string> order)
    {
        if (order.Contains(module) || !byName.TryGetValue(module, out var path)) return;
        foreach (var dep in ModuleDependencies(File.ReadAllBytes(path))) AddWithDependencies(dep, byName, order);
        order.Add(module);
    }

    /// <summary>The "depends=" entry of a module's .modinfo section, found in the file's bytes.</summary>
    internal static string[] ModuleDependencies(byte[] ko)
    {
        var tag = "depends="u8;
        int at = ko.AsSpan().IndexOf(tag);
        if (at < 0) return [];
        int start = at + tag.Length;
        int end = Array.IndexOf(ko, (byte)0, start);
        return Encoding.ASCII.GetString(ko, start, end - start).Split(',', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string KernelPackage()
    {
        // A machine that installed its packages long ago may have no package lists; fetch them once.
        if (!Sh.Try("apt-cache", "depends", KernelMetaPackage).Output.Contains("Depends: linux-image-", StringComparison.Ordinal))
            Sh.MustIn(null, 300, "apt-get", "update", "-qq");
        foreach (var line in Sh.Must("apt-cache", "depends", KernelMetaPackage).Split('\n'))
        {
            var t = line.Trim();
            if (t.StartsWith("Depends: linux-image-", StringComparison.Ordinal)) return t["Depends: ".Length..];
        }
        throw new InvalidOperationException($"apt-cache names no kernel for {KernelMetaPackage} (run apt-get update?)");
    }

    // busybox-static installed on the machine (.ci/apt/guest.txt) is used as is; otherwise its
    // package is downloaded and unpacked into the cache.
    private static string Busybox()
    {
        var (status, output) = Sh.Try("dpkg-query", "-W", "-f", "${Status}", BusyboxPackage);
        if (status == 0 && output.Contains("install ok installed", StringComparison.Ordinal) && File.Exists("/bin/busybox"))
            return "/bin/busybox";
        var cached = Path.Combine(CacheDir, "busybox");
        if (File.Exists(cached)) return cached;
        var work = Path.Combine(CacheDir, $"work-{Environment.ProcessId}");
        try
        {
            var root = Unpack(BusyboxPackage, work);
            File.Copy(Path.Combine(root, "bin", "busybox"), cached + ".tmp", overwrite: true);
            File.Move(cached + ".tmp", cached, overwrite: true);
            return cached;
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, true);
        }
    }

    /// <summary>apt-get download PACKAGE and dpkg-deb -x it; returns the unpacked root.</summary>
    private static string Unpack(string package, string work)
    {
        Directory.CreateDirectory(work);
        // apt's download sandbox user cannot write into root's cache; the download is still
        // checked against the signed package lists.
        Sh.MustIn(work, 300, "apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", package);
        var deb = Directory.GetFiles(work, "*.deb").Single();
        var root = Path.Combine(work, "root");
        Sh.MustIn(work, 300, "dpkg-deb", "-x", deb, root);
        return root;
    }

    // An exclusive lock held by an open file; waits (bounded) for another process's build.
    private static FileStream LockFile(string path)
    {
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { Thread.Sleep(200); }
        }
    }
}
