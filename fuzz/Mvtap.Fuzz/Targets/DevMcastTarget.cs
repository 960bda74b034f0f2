// /proc/net/dev_mcast as LinkMulticastList.Parse reads it for a container's NIC: the first
// byte picks the interface index to look for, the rest is the file's text. Every address it
// returns must be one the text spells as 12 hex digits on a line of that index.
using System.Text;
using Mvtap.Core.Frames;
using Mvtap.Linux.Netlink;

namespace Mvtap.Fuzz.Targets;

public static class DevMcastTarget
{
    public static void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        int ifIndex = input.Byte();
        // the monitor decodes the file as ASCII; Latin-1 keeps every byte visible to the parser
        string text = Encoding.Latin1.GetString(input.Rest());
        var groups = new List<MacAddress>();
        LinkMulticastList.Parse(text, ifIndex, groups);
        foreach (var g in groups)
        {
            string hex = g.Value.ToString("x12");
            if (!text.Contains(hex, StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException($"dev_mcast: {g} is not in the text");
        }
    }
}
