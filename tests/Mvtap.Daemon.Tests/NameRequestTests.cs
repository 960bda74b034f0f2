// Endpoint and lower names are checked by mvtapd itself, since any client can speak the control
// protocol: requests sent straight to the socket with a name the kernel's dev_valid_name refuses,
// or one that would break `link show` (control and bidi characters), are refused in ip's words and
// leave nothing behind, in `link show` or in state.json. A name of 15 bytes of UTF-8 works.
using System.Text.Json;
using Mvtap.Control;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests;

public sealed class NameRequestTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mvtapd-names-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    public static TheoryData<string> BadNames => new()
    {
        "a\nb", "a\0b", "a\tb", "a\rb", "a b", "a:b", "a/b", "a\u202eb" /* RLO */, "a\u2066b" /* LRI */, "a\u200bb" /* zero width */,
        "a\u0001b", "a\u007fb", "a\u0085b" /* C1 */, "a\u3000b", "0123456789abcdef" /* 16 bytes */, "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9ab" /* 16 bytes, 9 chars */,
        ".", "..", "", "\u00e0b" /* C3 A0: the kernel's isspace(0xA0) */, "a%d",
    };

    private static string Names(MvtapdProcess d) =>
        string.Join(",", RawControl.Send(d.SocketPath, new LinkShowRequest()).Links!.Select(l => l.Name));

    private static string SavedNames(MvtapdProcess d) =>
        string.Join(",", JsonDocument.Parse(File.ReadAllText(Path.Combine(d.StateDir, "state.json"))).RootElement
            .GetProperty("endpoints").EnumerateArray().Select(e => e.GetProperty("name").GetString()));

    private static void RefusedInIpsWords(ControlResponse response, string name, string keyword)
    {
        Assert.False(response.Ok);
        Assert.Equal((int)Errno.EINVAL, response.Error!.Errno);
        Assert.Equal($"argument \"{InterfaceNames.Printable(name)}\" is wrong: \"{keyword}\" not a valid ifname", response.Error.Message);
        Assert.DoesNotContain('\n', response.Error.Message);
    }

    [Fact]
    public void Bad_names_in_raw_requests_are_refused_and_leave_nothing_behind()
    {
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"));
        d.StartAndWait();
        Assert.True(RawControl.Send(d.SocketPath, new LinkAddRequest { Lower = "sim0", Name = "ok0", Type = "macvtap" }).Ok);
        foreach (var bad in BadNames)
        {
            RefusedInIpsWords(RawControl.Send(d.SocketPath, new LinkAddRequest { Lower = "sim0", Name = bad, Type = "macvtap", Up = true }), bad, "name");
            RefusedInIpsWords(RawControl.Send(d.SocketPath, new LinkAddRequest { Lower = "sim0", Name = bad, Type = "macvlan" }), bad, "name");
            RefusedInIpsWords(RawControl.Send(d.SocketPath, new LinkSetRequest { Name = "ok0", NewName = bad, Up = true }), bad, "name");
            if (bad is not ("" or "." or "..")) // "sim." is a good name; an empty lower is "Not enough information: \"link\" argument is required"
                RefusedInIpsWords(RawControl.Send(d.SocketPath, new LinkAddRequest { Lower = "sim" + bad, Name = "x0", Type = "macvtap" }), "sim" + bad, "link");
        }
        RefusedInIpsWords(RawControl.Send(d.SocketPath, new LinkAddRequest { Lower = "sim/../x", Name = "x0", Type = "macvtap" }), "sim/../x", "link");
        Assert.Equal("ok0", Names(d));
        Assert.Equal("ok0", SavedNames(d));
        var (status, output, _) = d.Cli("link", "show");
        Assert.Equal(0, status);
        Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // one endpoint, two lines
        Assert.Contains("state DOWN", output); // the refused set … up did not happen either
    }

    [Fact]
    public void A_name_of_15_bytes_of_utf8_works_and_survives_a_restart()
    {
        const string name = "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9a"; // 7 × 2 bytes + 1
        using var d = new MvtapdProcess(Path.Combine(_root, "run"), Path.Combine(_root, "state"));
        d.StartAndWait();
        var add = d.Cli("link", "add", "link", "sim0", "name", name, "type", "macvlan");
        Assert.True(add.Status == 0, add.Err);
        Assert.Equal(name, Names(d));
        d.Signal(15);
        Assert.Equal(0, d.WaitForExit());
        d.StartAndWait();
        Assert.Equal(name, Names(d));
        Assert.Contains($"{name}@sim0", d.Cli("link", "show", name).Out);
        Assert.Equal(0, d.Cli("link", "del", name).Status);
        Assert.Equal("", Names(d));
    }
}
