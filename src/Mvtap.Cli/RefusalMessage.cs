// How a refused operation is printed. The format is ip's for a netlink error: with a message
// (ip's extended ack) it is "Error: <message>." (period added if missing); without one it is
// "RTNETLINK answers: <strerror(errno)>". mvtapd always sends a message naming the conflict,
// e.g. "Error: address 1a:46:0b:ca:bc:7b is in use by macvtap1."
using Mvtap.Core.Model;

namespace Mvtap.Cli;

internal static class RefusalMessage
{
    public static string Format(int errno, string message)
    {
        if (string.IsNullOrWhiteSpace(message)) return $"RTNETLINK answers: {Strerror(errno)}";
        return message.EndsWith('.') ? $"Error: {message}" : $"Error: {message}.";
    }

    public static string Strerror(int errno) =>
        Enum.IsDefined(typeof(Errno), errno) ? MvtapException.Describe((Errno)errno) : $"Unknown error {errno}";
}
