// Test scaffolding: the frames of a capture file as tcpdump and tshark read them back, as hex
// strings, filtered (a tcpdump filter expression, or a tshark display filter), so a test compares
// what an AF_PACKET observer saw with what mvtap capture wrote, byte for byte.
using System.Text;

namespace Mvtap.Daemon.Tests.Capture;

internal static class FrameDumps
{
    /// <summary>`tcpdump -r FILE -nn -xx FILTER`: each frame's bytes as hex, in order.</summary>
    public static List<string> Tcpdump(string file, string filter)
    {
        var (status, output, err) = Sh.Capture(null, null, 60, "tcpdump", "-r", file, "-nn", "-xx", filter);
        Assert.True(status == 0, $"tcpdump -r {file}: {err}");
        var frames = new List<string>();
        StringBuilder? current = null;
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith("\t0x", StringComparison.Ordinal))
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                current!.Append(line[(colon + 1)..].Replace(" ", "", StringComparison.Ordinal).Trim());
            }
            else if (line.Length > 0)
            {
                if (current is not null) frames.Add(current.ToString());
                current = new StringBuilder();
            }
        }
        if (current is not null) frames.Add(current.ToString());
        return frames;
    }

    /// <summary>`tshark -r FILE -Y FILTER`: each frame's interface name, direction (epb_flags) and length.</summary>
    public static List<(string Interface, int Direction, int Length)> Tshark(string file, string displayFilter)
    {
        var (status, output, err) = Sh.Capture(null, null, 60, "tshark", "-r", file, "-Y", displayFilter, "-T", "fields",
            "-e", "frame.interface_name", "-e", "frame.packet_flags_direction", "-e", "frame.len");
        Assert.True(status == 0, $"tshark -r {file}: {err}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Select(f =>
            (f[0], Convert.ToInt32(f[1], 16), int.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)))];
    }

    public static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
}
