// The name check that the daemon and the CLI share (InterfaceNames), against the kernel itself:
// generated names are given to a new veth in a throw-away namespace, and a name is valid for mvtap
// exactly when the kernel takes it as that interface's name and it has none of the characters mvtap
// refuses on purpose (control, format and separator characters: README's deliberate differences).
using System.Globalization;
using System.Text;
using CsCheck;
using Mvtap.Control;
using Mvtap.Linux;
using Mvtap.Linux.Netlink;
using Mvtap.Core.Model;

namespace Mvtap.Cli.Tests;

public sealed class InterfaceNameKernelDifferentialTests
{
    // What names are made of: ordinary characters, every byte the kernel treats specially, and
    // characters that are valid for the kernel but change what a terminal shows.
    private static readonly string[] Pool =
    [
        "a", "b", "0", "9", "-", "_", ".", "d", "%", "/", ":", " ", "\t", "\n", "\v", "\f", "\r", "\u0001", "\u001f", "\u007f",
        "\u00e0" /* C3 A0 */, "\u00e9", "\u00a0", "\u0085", "\u00ad", "\u200b", "\u200f", "\u202e", "\u2066", "\u2028", "\u3000",
        "\ufeff", "\u4e2d", "\U0001F600", "\U000E0001",
    ];

    private static readonly Gen<string> Names = Gen.Int[0, Pool.Length - 1].Array[0, 9].Select(ix => string.Concat(ix.Select(i => Pool[i])));

    private static bool DeliberatelyRefused(string name) => name.EnumerateRunes().Any(r => Rune.GetUnicodeCategory(r) is
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator);

    [Fact]
    public void A_name_is_valid_exactly_when_the_kernel_takes_it_and_it_has_no_deliberately_refused_character()
    {
        Assert.True(TestHost.IsRoot, "needs root");
        using var ns = new ThrowawayNamespace();
        using var rtnl = Rtnetlink.InNamespace(ns.Name);
        int peer = 0;
        Names.Sample(name =>
        {
            bool kernelTakesIt = KernelTakes(rtnl, name, $"p{peer++}");
            bool expected = kernelTakesIt && !DeliberatelyRefused(name);
            if (InterfaceNames.IsValid(name) != expected)
                throw new Exception($"\"{InterfaceNames.Printable(name)}\": mvtap says {InterfaceNames.IsValid(name)}, the kernel {(kernelTakesIt ? "takes" : "refuses")} it");
        }, iter: 400, threads: 1);
    }

    [Fact]
    public void A_string_that_is_no_utf8_is_no_name()
    {
        // built here: an attribute's string would reach the test with the surrogate replaced
        Assert.False(InterfaceNames.IsValid(new string(['a', (char)0xD800, 'b'])));
        Assert.False(InterfaceNames.IsValid(new string([(char)0xDC00])));
        Assert.Equal("a\\ud800b", InterfaceNames.Printable(new string(['a', (char)0xD800, 'b'])));
    }

    // Whether the kernel creates an interface with exactly this name (a "%d" is a pattern it numbers).
    private static bool KernelTakes(Rtnetlink rtnl, string name, string peerName)
    {
        try
        {
            Veth.Create(rtnl, name, peerName);
        }
        catch (RtnetlinkException e) when (e.Errno is (int)Errno.EINVAL or (int)Errno.ERANGE) // dev_valid_name or the length
        {
            return false;
        }
        catch (RtnetlinkException e) when (e.Errno == (int)Errno.EEXIST) // a valid name that is taken ("lo")
        {
            return true;
        }
        bool same = rtnl.GetLink(name) is { } link && link.Name == name;
        rtnl.DeleteLink(peerName);
        return same;
    }
}
