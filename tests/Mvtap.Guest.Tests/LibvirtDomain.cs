// One libvirt domain of the test guest under TCG: direct kernel boot of Guest/GuestImage, guest
// memory a shared memfd (vhost-user maps it), the NIC element exactly as `mvtap libvirt` printed
// it, and QEMU 7.2's vectors=0 workaround through <qemu:commandline>. The serial console is a TCP
// socket on 127.0.0.1 (commands to the guest's init) logged by virtlogd to a file (every line
// since boot, read for the MVTAP-* results). Undefined and destroyed on Dispose.
using System.Net;
using System.Net.Sockets;
using System.Security;
using Mvtap.Guest.Tests.Guest;

namespace Mvtap.Guest.Tests;

internal sealed class LibvirtDomain : IDisposable
{
    private const string Uri = "qemu:///system";
    private readonly string _xmlPath;
    private readonly int _port;
    private TcpClient? _console;
    private int _logOffset;

    public LibvirtDomain(string name, string dir, GuestConfig config, string interfaceXml)
    {
        Name = name;
        LogPath = Path.Combine(dir, $"{name}-console.log");
        _xmlPath = Path.Combine(dir, $"{name}.xml");
        _port = FreePort();
        var image = GuestImage.Get();
        File.WriteAllText(_xmlPath, $"""
            <domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
              <name>{name}</name>
              <memory unit='MiB'>256</memory>
              <vcpu>1</vcpu>
              <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>
              <os>
                <type arch='x86_64' machine='pc'>hvm</type>
                <loader type='rom' readonly='yes'>/usr/share/qemu/qboot.rom</loader>
                <kernel>{image.Kernel}</kernel>
                <initrd>{image.Initrd}</initrd>
                <cmdline>{SecurityElement.Escape(config.CommandLine)}</cmdline>
              </os>
              <!-- without ACPI the guest finds no interrupt routing for the NIC's INTx (vectors=0 below) -->
              <features><acpi/></features>
              <on_poweroff>destroy</on_poweroff>
              <on_reboot>destroy</on_reboot>
              <on_crash>destroy</on_crash>
              <devices>
                <emulator>/usr/bin/qemu-system-x86_64</emulator>
                <serial type='tcp'>
                  <source mode='bind' host='127.0.0.1' service='{_port}'/>
                  <protocol type='raw'/>
                  <log file='{LogPath}' append='on'/>
                  <target port='0'/>
                </serial>
            {interfaceXml}
                <memballoon model='none'/>
              </devices>
              <qemu:commandline>
                <qemu:arg value='-global'/>
                <qemu:arg value='virtio-net-pci.vectors=0'/>
                <qemu:arg value='-global'/>
                <qemu:arg value='virtio-net-pci.romfile='/>
              </qemu:commandline>
            </domain>
            """);
        Virsh("define", _xmlPath);
    }

    public string Name { get; }
    public string LogPath { get; }

    /// <summary>`virsh start`, then connects to the console (QEMU listens on it from its start).</summary>
    public void Start()
    {
        _logOffset = File.Exists(LogPath) ? File.ReadAllText(LogPath).Length : 0;
        Virsh("start", Name);
        _console = new TcpClient();
        _console.Connect(IPAddress.Loopback, _port);
    }

    public void Destroy()
    {
        _console?.Dispose();
        _console = null;
        Virsh("destroy", Name);
    }

    /// <summary>The MVTAP-* lines the guest printed since the last Start.</summary>
    public List<string> Lines()
    {
        if (!File.Exists(LogPath)) return [];
        var text = File.ReadAllText(LogPath);
        return [.. text[Math.Min(_logOffset, text.Length)..].Split('\n')
            .Select(l => l.IndexOf("MVTAP-", StringComparison.Ordinal) is int at and >= 0 ? l[at..].TrimEnd('\r') : null)
            .OfType<string>()];
    }

    public string Console => File.Exists(LogPath) ? File.ReadAllText(LogPath)[Math.Min(_logOffset, File.ReadAllText(LogPath).Length)..] : "";

    /// <summary>Waits (bounded) for the first line after the first `skip` that starts with the prefix.</summary>
    public string WaitFor(string prefix, TimeSpan timeout, int skip = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var lines = Lines();
            if (lines.Skip(skip).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } found) return found;
            if (lines.FirstOrDefault(l => l.StartsWith("MVTAP-ERROR", StringComparison.Ordinal)) is { } error)
                throw new InvalidOperationException($"{Name}: {error}\n{Console}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{Name}: no \"{prefix}\" within {timeout.TotalSeconds} s:\n{Console}");
            Thread.Sleep(200);
        }
    }

    /// <summary>Asks the serving guest to ping (once it waits for a command); returns the result.</summary>
    public bool Ping(string address, int tries)
    {
        int skip = Lines().Count;
        WaitFor("MVTAP-WAIT", GuestVm.BootWait, Math.Max(0, skip - 1));
        var bytes = System.Text.Encoding.ASCII.GetBytes($"ping {address} {tries}\n");
        _console!.GetStream().Write(bytes);
        return WaitFor($"MVTAP-PING {address} ", TimeSpan.FromSeconds(tries * 2 + 30), skip).EndsWith(" OK", StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static string Virsh(params string[] args) => Sh.Must("virsh", ["-c", Uri, .. args]);

    public void Dispose()
    {
        _console?.Dispose();
        Sh.Try("virsh", "-c", Uri, "destroy", Name);
        Sh.Try("virsh", "-c", Uri, "undefine", Name);
    }
}
