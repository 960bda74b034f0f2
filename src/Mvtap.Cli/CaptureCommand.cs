// `mvtap capture NAME... [ in | out ] [ count N ] [ snaplen N ] [ -w FILE | - ]`: captures the
// frames of endpoints (or of a lower's wire) in mvtapd's datapath and writes them as pcapng, to
// FILE or to standard output (the default when it is not a terminal), so that `mvtap capture vm1
// -w - | tcpdump -r -` works live. Ctrl-C or SIGTERM asks mvtapd to end the capture, which then
// writes its statistics (an Interface Statistics Block per interface); tcpdump's summary lines go
// to standard error. Reading the stream is CaptureReceiver's. A user who may not use the control
// socket (an endpoint's owner outside the socket group) is served on that endpoint's own capture
// socket, <run-dir>/capture/NAME.sock, when there is one: the first NAME's, tried when the
// control socket refuses the connection or the request with "Permission denied" / EPERM.
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Mvtap.Control;
using Mvtap.Control.Capture;
using Mvtap.Core.Model;

namespace Mvtap.Cli;

internal static class CaptureCommand
{
    public const string Usage =
        "Usage: mvtap capture { DEVICE | dev DEVICE } [ DEVICE ... ] [ in | out ] [ count COUNT ]\n" +
        "                     [ snaplen SNAPLEN ] [ -w { FILE | - } ]\n" +
        "DEVICE is an endpoint (its frames both ways: out = sent by its user, in = delivered to it)\n" +
        "or a lower (every frame its wire carries). Writes pcapng; -w - (the default when standard\n" +
        "output is not a terminal) streams it, e.g. into tcpdump -r -.\n";

    internal sealed record Settings(CaptureRequest Request, string? File);

    /// <summary>Null for `help`.</summary>
    public static Settings? Parse(IReadOnlyList<string> words)
    {
        var names = new List<string>();
        string? direction = null, file = null;
        long? count = null;
        int? snaplen = null;
        for (int i = 0; i < words.Count; i++)
        {
            string w = words[i];
            string Next() => ++i < words.Count ? words[i] : throw UsageErrors.Incomplete();
            if (w == "help") return null;
            if (w is "in" or "out")
            {
                if (direction is not null) throw UsageErrors.Duplicate("direction", w);
                direction = w;
            }
            else if (w == "count")
            {
                var v = Next();
                if (count is not null) throw UsageErrors.Duplicate("count", v);
                count = long.TryParse(v, out var n) && n > 0 ? n : throw UsageErrors.InvalidArgument(v, "count");
            }
            else if (w == "snaplen")
            {
                var v = Next();
                if (snaplen is not null) throw UsageErrors.Duplicate("snaplen", v);
                snaplen = int.TryParse(v, out var n) && n is >= 0 and <= CaptureLimits.MaxSnaplen
                    ? (n == 0 ? CaptureLimits.MaxSnaplen : n) // tcpdump: 0 means the largest
                    : throw UsageErrors.InvalidArgument(v, $"snaplen (0-{CaptureLimits.MaxSnaplen})");
            }
            else if (w == "-w")
            {
                var v = Next();
                if (file is not null) throw UsageErrors.Duplicate("-w", v);
                file = v;
            }
            else
            {
                if (w == "dev") w = Next();
                if (!InterfaceNames.IsValid(w)) throw new CommandLineException(InterfaceNames.Refusal(w, "dev"));
                if (names.Count == CaptureLimits.MaxNames) throw new CommandLineException($"Error: at most {CaptureLimits.MaxNames} devices in one capture.");
                names.Add(w);
            }
        }
        if (names.Count == 0) throw UsageErrors.Required("dev");
        return new(new CaptureRequest { Names = names, Direction = direction, Count = count, Snaplen = snaplen }, file);
    }

    public static int Run(Settings settings, string runDir, TextWriter stderr)
    {
        bool toStdout = settings.File is null or "-";
        if (toStdout && !Console.IsOutputRedirected)
            throw new CommandLineException("mvtap capture: not writing pcapng to a terminal; give -w FILE, or pipe it (-w - | tcpdump -r -).");
        var (response, socket) = Open(settings.Request, runDir);
        if (!response.Ok || socket is null) throw new LinkOperationException(response.Error?.Errno ?? 0, response.Error?.Message ?? "");
        using var _ = socket;
        using var output = toStdout ? Console.OpenStandardOutput() : OpenFile(settings.File!);
        var receiver = new CaptureReceiver(socket, output);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var summary = receiver.Run();
        stderr.WriteLine($"{summary.Captured} packets captured");
        stderr.WriteLine($"{summary.Seen} packets received by filter");
        stderr.WriteLine($"{summary.Dropped} packets dropped by mvtapd (the reader was too slow)");
        if (summary.Ended is { } why) stderr.WriteLine($"mvtap capture: {InterfaceNames.Printable(why)}");
        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            receiver.RequestStop();
        }
    }

    // The control socket; when it will not have us, the first name's owner capture socket, if it exists
    // (its own refusal is then the one reported).
    private static (ControlResponse, Socket?) Open(CaptureRequest request, string runDir)
    {
        string owners = ControlPaths.OwnerCapturePath(runDir, request.Names![0]);
        try
        {
            var (response, socket) = new ControlClient(ControlPaths.SocketPath(runDir)).Open(request);
            if (response.Ok || response.Error?.Errno != (int)Errno.EPERM || !File.Exists(owners)) return (response, socket);
        }
        catch (ControlProtocolException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.AccessDenied } && File.Exists(owners))
        {
        }
        return new ControlClient(owners).Open(request);
    }

    private static FileStream OpenFile(string path)
    {
        try { return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CommandLineException($"mvtap capture: {path}: {e.Message}");
        }
    }
}
