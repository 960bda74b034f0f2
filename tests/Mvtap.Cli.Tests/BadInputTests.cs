// A bad command line: ip's wording on stderr, exit status 2, and the backend never asked.
namespace Mvtap.Cli.Tests;

public class BadInputTests
{
    private const string Add = "link add link eth1 name m0 type macvtap";

    public static TheoryData<string, string> Cases => new()
    {
        { "foo", "Object \"foo\" is unknown, try \"mvtap help\"." },
        { "link foo", "Command \"foo\" is unknown, try \"mvtap link help\"." },
        { "-x link", "Option \"-x\" is unknown, try \"mvtap -help\"." },
        { "--bogus link", "Option \"--bogus\" is unknown, try \"mvtap -help\"." },
        { "--run-dir", "Option \"-run-dir\" needs a directory." },
        // unknown keyword
        { Add + " bogus", "macvtap: unknown option \"bogus\"?" },
        { "link add link eth1 name m0 type macvlan bogus", "macvlan: unknown option \"bogus\"?" },
        { "link add link eth1 name m0 bogus type macvtap", "Error: either \"dev\" is duplicate, or \"bogus\" is a garbage." },
        { "link add link eth1 m0 name m1 type macvtap", "both \"name\" and \"dev\" cannot be used when creating devices." },
        // ip's "t" is txqueuelen, not type
        { "link add link eth1 name m0 t macvtap", "Error: argument \"macvtap\" is wrong: Invalid \"txqueuelen\" value" },
        // bad MAC, multicast MAC, zero MAC
        { Add + " address zz", "\"zz\" is invalid lladdr." },
        { Add + " address 1a:46:0b:ca:bc", "\"1a:46:0b:ca:bc\" is invalid lladdr." },
        { Add + " address 1a:46:0b:ca:bc:7b:00", "\"1a:46:0b:ca:bc:7b:00\" is invalid lladdr." },
        { Add + " address 01:00:5e:00:00:01",
            "Error: address 01:00:5e:00:00:01 is multicast, not a unicast address: Cannot assign requested address." },
        { "link set m0 address ff:ff:ff:ff:ff:ff",
            "Error: address ff:ff:ff:ff:ff:ff is multicast, not a unicast address: Cannot assign requested address." },
        { Add + " address 00:00:00:00:00:00",
            "Error: address 00:00:00:00:00:00 is all zeros, not a unicast address: Cannot assign requested address." },
        { "link set m0 macaddr add 03:00:00:00:00:01",
            "Error: address 03:00:00:00:00:01 is multicast, not a unicast address: Cannot assign requested address." },
        { "link set m0 macaddr add zz", "\"zz\" is invalid lladdr." },
        // guestmem takes sealed or any, once
        { Add + " guestmem all", "Error: argument of \"guestmem\" must be \"sealed\" or \"any\", not \"all\"" },
        { Add + " guestmem any guestmem sealed", "Error: duplicate \"guestmem\": \"sealed\" is the second value." },
        { Add + " guestmem", "Command line is not complete. Try option \"help\"" },
        // missing argument
        { "link add link eth1 name", "Command line is not complete. Try option \"help\"" },
        { "link add link eth1 name m0 type", "Command line is not complete. Try option \"help\"" },
        { Add + " mode", "Command line is not complete. Try option \"help\"" },
        { Add + " bcqueuelen", "Command line is not complete. Try option \"help\"" },
        { "link set m0 address", "Command line is not complete. Try option \"help\"" },
        { "link set m0 netns", "Command line is not complete. Try option \"help\"" },
        { "link set m0 macaddr add", "Command line is not complete. Try option \"help\"" },
        { "link set m0 macaddr", "Command line is not complete. Try option \"help\"" },
        { "link del dev", "Command line is not complete. Try option \"help\"" },
        { "link add name m0 type macvtap", "Not enough information: \"link\" argument is required." },
        { "link add link eth1 name m0", "Not enough information: \"type\" argument is required." },
        { "link set up", "Not enough information: \"dev\" argument is required." },
        { "link del", "Not enough information: \"dev\" argument is required." },
        // duplicate keyword / garbage
        { "link add link eth1 name m0 name m1 type macvtap", "Error: duplicate \"name\": \"m1\" is the second value." },
        { Add + " mode bridge mode vepa", "Error: duplicate \"mode\": \"vepa\" is the second value." },
        { Add + " address 02:00:00:00:00:01 address 02:00:00:00:00:02",
            "Error: duplicate \"address\": \"02:00:00:00:00:02\" is the second value." },
        { "link add link eth1 link eth2 name m0 type macvtap", "Error: duplicate \"link\": \"eth2\" is the second value." },
        { Add + " type macvlan", "Error: duplicate \"type\": \"macvlan\" is the second value." },
        { "link set dev m0 dev m1", "Error: either \"dev\" is duplicate, or \"m1\" is a garbage." },
        { "link set m0 m1", "Error: either \"dev\" is duplicate, or \"m1\" is a garbage." },
        { "link del m0 m1", "Error: either \"dev\" is duplicate, or \"m1\" is a garbage." },
        { "link show m0 m1", "Error: either \"dev\" is duplicate, or \"m1\" is a garbage." },
        // unknown mode / flag / type / numbers
        { Add + " mode foo", "Error: argument of \"mode\" must be \"private\", \"vepa\", \"bridge\", \"passthru\" or \"source\", not \"foo\"" },
        { "link set m0 mode VEPA", "Error: argument of \"mode\" must be \"private\", \"vepa\", \"bridge\", \"passthru\" or \"source\", not \"VEPA\"" },
        { Add + " flag bogus", "Error: argument of \"flag\" must be \"nopromisc\", \"nodst\" or \"null\", not \"bogus\"" },
        { Add + " flag nopromisc", "macvtap: nopromisc flag only valid in passthru mode" },
        { Add + " mode bridge nopromisc", "macvtap: nopromisc flag only valid in passthru mode" },
        { "link add link eth1 name m0 type veth", "Error: Unknown device type \"veth\"; mvtap makes \"macvtap\" and \"macvlan\" links." },
        { Add + " bcqueuelen abc", "Error: argument of \"bcqueuelen\" must be a positive integer [0-4294967295], not \"abc\"" },
        { Add + " bcqueuelen -1", "Error: argument of \"bcqueuelen\" must be a positive integer [0-4294967295], not \"-1\"" },
        { Add + " bcqueuelen 4294967296", "Error: argument of \"bcqueuelen\" must be a positive integer [0-4294967295], not \"4294967296\"" },
        { Add + " bclim x", "Error: argument of \"bclim\" must be an integer [-2147483648-2147483647], not \"x\"" },
        { Add + " spoofchk maybe", "Error: argument of \"spoofchk\" must be \"on\" or \"off\", not \"maybe\"" },
        { "link set m0 mtu abc", "Error: argument \"abc\" is wrong: Invalid \"mtu\" value" },
        { "link set m0 macaddr bogus", "Error: argument of \"macaddr\" must be \"add\", \"del\", \"set\" or \"flush\", not \"bogus\"" },
        { Add + " macaddr flush", "Error: argument \"flush\" is wrong: a new link has no source addresses to delete or flush" },
        { "link set m0 link eth2", "Error: argument \"eth2\" is wrong: the lower device of an endpoint cannot be changed" },
        // owner/group numbers that name no account ((uid_t)-1 means "no change" to chown)
        { Add + " owner 4294967295", "invalid user \"4294967295\"" },
        { Add + " owner 4294967296", "invalid user \"4294967296\"" },
        { Add + " group 4294967295", "invalid group \"4294967295\"" },
        { "link set m0 owner 4294967295", "invalid user \"4294967295\"" },
        { "link set m0 group 99999999999", "invalid group \"99999999999\"" },
        // bad names
        { "link add link eth1 name this-name-is-too-long type macvtap",
            "Error: argument \"this-name-is-too-long\" is wrong: \"name\" not a valid ifname" },
        { "link add link eth1 name a/b type macvtap", "Error: argument \"a/b\" is wrong: \"name\" not a valid ifname" },
        { "link add link eth1 name x:y type macvtap", "Error: argument \"x:y\" is wrong: \"name\" not a valid ifname" },
        { "link set m0 name x:y", "Error: argument \"x:y\" is wrong: \"name\" not a valid ifname" },
        { "link add link eth1 name .. type macvtap", "Error: argument \"..\" is wrong: \"name\" not a valid ifname" },
        { "link add link eth1 name a%d type macvtap", "Error: argument \"a%d\" is wrong: \"name\" not a valid ifname" },
        { "link add link eth1 name \u00e0b type macvtap", "Error: argument \"\u00e0b\" is wrong: \"name\" not a valid ifname" },
        { "link add link eth1 name a\u202eb type macvtap", "Error: argument \"a\\u202eb\" is wrong: \"name\" not a valid ifname" },
        { "link add link eth1 name a\u0001b type macvtap", "Error: argument \"a\\x01b\" is wrong: \"name\" not a valid ifname" },
        // qemu
        { "qemu", "Not enough information: \"dev\" argument is required." },
        { "qemu m0 memory lots", "Error: argument \"lots\" is wrong: Invalid \"memory\" size (like 512M or 4G)" },
        { "qemu m0 stream tap", "Error: duplicate \"attachment\": \"tap\" is the second value." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_command_line_exits_2_with_ip_wording(string commandLine, string expectedError)
    {
        var backend = new RecordingLinkBackend();
        var r = CliRun.Run(backend, commandLine.Split(' '));
        Assert.Equal(expectedError + "\n", r.Stderr);
        Assert.Equal(2, r.Exit);
        Assert.Equal("", r.Stdout);
        Assert.Empty(backend.Requests);
    }

    [Fact]
    public void No_arguments_prints_usage_and_exits_2()
    {
        var r = CliRun.Run(new RecordingLinkBackend());
        Assert.Equal(2, r.Exit);
        Assert.StartsWith("Usage: mvtap", r.Stderr);
    }
}
