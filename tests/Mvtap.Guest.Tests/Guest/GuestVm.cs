// One QEMU (TCG) running the test guest: builds the command line, reads the serial console
// line by line for the init script's MVTAP-* result lines, writes commands to it, and kills
// QEMU (with whatever launched it) on Dispose, on every exit path.
using System.Diagnostics;
using System.Text;

namespace Mvtap.Guest.Tests.Guest;

internal sealed class GuestVm : IDisposable
{
    /// <summary>The bound for a boot under TCG up to the guest's first result line.</summary>
    public static readonly TimeSpan BootWait = TimeSpan.FromSeconds(120);

    private readonly List<string> _lines = [];
    private readonly StringBuilder _all = new();
    private readonly Process _process;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private GuestVm(string name, Process process)
    {
        Name = name;
        _process = process;
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }
    public string Output { get { lock (_lines) return _all.ToString(); } }

    /// <summary>Seconds from launch to the guest's MVTAP-UP line, for the report.</summary>
    public double? UpAfterSeconds { get; private set; }

    /// <summary>The QEMU arguments for a guest with one virtio NIC on the given -netdev.</summary>
    public static List<string> QemuArgs(GuestImage image, GuestConfig config, IEnumerable<string> netdev, bool sharedMemory, string deviceExtra = "")
    {
        var args = BaseArgs(image, config);
        args.AddRange(["-m", "256"]);
        if (sharedMemory)
            // vhost-user maps the guest's memory: it must be a shared memfd the size of -m.
            args.AddRange(["-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem"]);
        args.AddRange(netdev);
        // romfile= skips the iPXE option ROM: nothing netboots, and it needs no ipxe-qemu.
        args.AddRange(["-device", $"virtio-net-pci,netdev=n0,mac={config.Mac},romfile={deviceExtra}"]);
        return args;
    }

    /// <summary>The QEMU arguments for a guest whose memory and NIC options are exactly
    /// <paramref name="fragment"/> (what `mvtap qemu NAME memory 256M` printed, already split
    /// into words).</summary>
    public static List<string> QemuArgsWithFragment(GuestImage image, GuestConfig config, IEnumerable<string> fragment)
    {
        var args = BaseArgs(image, config);
        args.AddRange(fragment);
        // As romfile= above, from outside the printed -device: no option ROM, no ipxe-qemu.
        args.AddRange(["-global", "virtio-net-pci.romfile="]);
        return args;
    }

    private static List<string> BaseArgs(GuestImage image, GuestConfig config) =>
    [
        "qemu-system-x86_64", "-nodefaults", "-display", "none", "-no-reboot", "-no-user-config",
        // The default CPU model boots faster under TCG than -cpu max (measured: about a second).
        "-machine", "pc", "-accel", "tcg", "-smp", "1",
        // qboot starts a -kernel guest faster than SeaBIOS and ships with QEMU itself.
        "-bios", "qboot.rom",
        "-kernel", image.Kernel, "-initrd", image.Initrd, "-append", config.CommandLine,
        "-serial", "stdio", "-monitor", "none",
    ];

    /// <summary>Splits a POSIX shell fragment as `mvtap qemu` prints it (plain words and
    /// single-quoted ones, with '\'' for a quote inside) into arguments.</summary>
    public static List<string> ShellWords(string fragment)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false, quoted = false;
        for (int i = 0; i < fragment.Length; i++)
        {
            char ch = fragment[i];
            if (quoted)
            {
                if (ch == '\'') quoted = false; else word.Append(ch);
            }
            else if (ch == '\'') { quoted = true; inWord = true; }
            else if (ch == '\\' && i + 1 < fragment.Length) { word.Append(fragment[++i]); inWord = true; }
            else if (char.IsWhiteSpace(ch))
            {
                if (inWord) { words.Add(word.ToString()); word.Clear(); inWord = false; }
            }
            else { word.Append(ch); inWord = true; }
        }
        if (quoted) throw new FormatException($"unterminated quote in: {fragment}");
        if (inWord) words.Add(word.ToString());
        return words;
    }

    /// <summary>Starts QEMU directly (argv[0] is the program).</summary>
    public static GuestVm Start(string name, IReadOnlyList<string> argv) => Launch(name, argv[0], argv.Skip(1));

    /// <summary>Starts QEMU through sh with fd 3 opened read-write on a path (the seed's
    /// `3&lt;&gt;/dev/tapN`); exec keeps QEMU the launched process.</summary>
    public static GuestVm StartWithFd3(string name, string fd3Path, IReadOnlyList<string> argv) =>
        Launch(name, "/bin/sh", ["-c", "p=$1; shift; exec \"$@\" 3<>\"$p\"", "sh", fd3Path, .. argv]);

    private static GuestVm Launch(string name, string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        return new GuestVm(name, Process.Start(psi)!);
    }

    private void Add(string? line)
    {
        if (line is null) return;
        lock (_lines)
        {
            _all.AppendLine(line);
            // The console may prefix a line with kernel output or a carriage return.
            int at = line.IndexOf("MVTAP-", StringComparison.Ordinal);
            if (at >= 0)
            {
                var l = line[at..].TrimEnd('\r');
                if (l.StartsWith("MVTAP-UP", StringComparison.Ordinal) && UpAfterSeconds is null) UpAfterSeconds = _clock.Elapsed.TotalSeconds;
                _lines.Add(l);
            }
            Monitor.PulseAll(_lines);
        }
    }

    /// <summary>Waits (bounded) for the first result line after the first `skip` lines that
    /// starts with the prefix; throws with the console output if QEMU exits or time runs out.</summary>
    public string WaitFor(string prefix, TimeSpan timeout, int skip = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        bool drained = false;
        while (true)
        {
            lock (_lines)
            {
                for (int i = skip; i < _lines.Count; i++)
                    if (_lines[i].StartsWith(prefix, StringComparison.Ordinal)) return _lines[i];
                var error = _lines.FirstOrDefault(l => l.StartsWith("MVTAP-ERROR", StringComparison.Ordinal));
                if (error is not null) throw new InvalidOperationException($"{Name}: {error}\n{_all}");
                if (drained)
                    throw new InvalidOperationException($"{Name}: QEMU exited ({_process.ExitCode}) before \"{prefix}\":\n{_all}");
                if (!_process.HasExited)
                {
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) throw new TimeoutException($"{Name}: no \"{prefix}\" within {timeout.TotalSeconds} s:\n{_all}");
                    Monitor.Wait(_lines, left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
                    continue;
                }
            }
            // QEMU has exited: its last output may still be on its way to Add (the readers are
            // asynchronous). WaitForExit() returns once both streams reached end of file; it must
            // not hold the lock Add takes. Then look once more, with everything QEMU printed.
            _process.WaitForExit();
            drained = true;
        }
    }

    public int LineCount { get { lock (_lines) return _lines.Count; } }

    /// <summary>The result of pinging a target; waits for the line.</summary>
    public bool PingResult(string address, TimeSpan timeout, int skip = 0) =>
        WaitFor($"MVTAP-PING {address} ", timeout, skip).EndsWith(" OK", StringComparison.Ordinal);

    /// <summary>Asks a serving guest (mvtap.serve=1) to ping once more; returns the result.</summary>
    public bool Ping(string address, int tries)
    {
        int skip = LineCount;
        WaitFor("MVTAP-WAIT", BootWait);
        _process.StandardInput.Write($"ping {address} {tries}\n");
        _process.StandardInput.Flush();
        // Each try waits at most a second for its reply; the margin covers a slow TCG guest.
        return PingResult(address, TimeSpan.FromSeconds(tries * 2 + 30), skip);
    }

    /// <summary>Waits (bounded) for QEMU to exit after the guest powered off.</summary>
    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit((int)timeout.TotalMilliseconds);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
