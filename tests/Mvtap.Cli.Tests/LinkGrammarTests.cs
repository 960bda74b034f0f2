// Every `mvtap link` command, abbreviation and ip synonym, checked by the exact control request
// it produces (as it goes on the wire), with exit status 0 and nothing on stderr.
namespace Mvtap.Cli.Tests;

public class LinkGrammarTests
{
    private const string M0 = """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap"}""";

    public static TheoryData<string, string> Commands => new()
    {
        // link add: full words, ip abbreviations, bare name, `dev NAME`
        { "link add link eth1 name m0 type macvtap", M0 },
        { "l a link eth1 name m0 type macvtap", M0 },
        { "li ad li eth1 name m0 ty macvtap", M0 },
        { "link add link eth1 m0 type macvtap", M0 },
        { "link add link eth1 dev m0 type macvtap", M0 },
        { "link add name m0 type macvtap link eth1", M0 },
        { "link add link eth1 type macvtap", """{"op":"link-add","lower":"eth1","type":"macvtap"}""" },
        { "link add link eth1 name m0 type macvlan mode bridge",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","mode":"bridge"}""" },
        { "link add link eth1 name m0 type macvtap m private",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","mode":"private"}""" },
        { "link add link eth1 name m0 type macvtap address 1A:46:0B:CA:BC:7B",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","address":"1a:46:0b:ca:bc:7b"}""" },
        { "link add link eth1 name m0 a 1a:46:b:ca:bc:7b type macvtap",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","address":"1a:46:0b:ca:bc:7b"}""" },
        // flags as ip writes them
        { "link add link eth1 name m0 type macvtap mode passthru nopromisc",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","mode":"passthru","flags":["nopromisc"]}""" },
        { "link add link eth1 name m0 type macvtap mode passthru no",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","mode":"passthru","flags":["nopromisc"]}""" },
        { "link add link eth1 name m0 type macvtap mode passthru flag nopromisc",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","mode":"passthru","flags":["nopromisc"]}""" },
        { "link add link eth1 name m0 type macvlan mode source nodst",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","mode":"source","flags":["nodst"]}""" },
        { "link add link eth1 name m0 type macvlan mode source nod",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","mode":"source","flags":["nodst"]}""" },
        { "link add link eth1 name m0 type macvlan flag nodst",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","flags":["nodst"]}""" },
        { "link add link eth1 name m0 type macvlan flag null",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","flags":[]}""" },
        // broadcast queue
        { "link add link eth1 name m0 type macvtap bcqueuelen 7",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","bc_queue_len":7}""" },
        { "link add link eth1 name m0 type macvtap b 0x10",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","bc_queue_len":16}""" },
        { "link add link eth1 name m0 type macvtap bc_cutoff -1",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","bc_cutoff":-1}""" },
        { "link add link eth1 name m0 type macvtap bclim 3",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","bc_cutoff":3}""" },
        // source list at creation
        { "link add link eth1 name m0 type macvlan mode source macaddr 02:00:00:00:00:01 02:00:00:00:00:02",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","mode":"source","macaddr_operation":"set","macaddrs":["02:00:00:00:00:01","02:00:00:00:00:02"]}""" },
        { "link add link eth1 name m0 type macvlan mode source ma add 02:00:00:00:00:01",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","mode":"source","macaddr_operation":"add","macaddrs":["02:00:00:00:00:01"]}""" },
        // mvtap's settings
        { "link add link eth1 name m0 type macvtap owner alice group kvm spoofchk off",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","owner":"alice","group":"kvm","spoof_check":false}""" },
        { "link add link eth1 name m0 type macvtap o 1000 s on",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","owner":"1000","spoof_check":true}""" },
        { "link add link eth1 name m0 type macvtap owner 4294967294 group 0",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","owner":"4294967294","group":"0"}""" },
        { "link add link eth1 name m0 type macvtap guestmem any",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","guest_memory":"any"}""" },
        { "link add link eth1 guestmem sealed name m0 type macvtap",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","guest_memory":"sealed"}""" },
        { "link add link eth1 name m0 mtu 1400 txqueuelen 1000 type macvtap up",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvtap","mtu":1400,"tx_queue_len":1000,"up":true}""" },
        { "link add link eth1 name m0 qlen 300 type macvlan netns ns1",
            """{"op":"link-add","lower":"eth1","name":"m0","type":"macvlan","tx_queue_len":300,"netns":"ns1"}""" },

        // link set / change
        { "link set m0 up", """{"op":"link-set","name":"m0","up":true}""" },
        { "l s m0 down", """{"op":"link-set","name":"m0","up":false}""" },
        { "link set dev m0 up", """{"op":"link-set","name":"m0","up":true}""" },
        { "link change m0 up", """{"op":"link-set","name":"m0","up":true}""" },
        { "link set m0 up down", """{"op":"link-set","name":"m0","up":false}""" },
        { "link set name m0 up", """{"op":"link-set","name":"m0","up":true}""" },
        { "link set m0 name m1", """{"op":"link-set","name":"m0","new_name":"m1"}""" },
        { "link set macvtap0 address 1a:46:0b:ca:bc:7b up",
            """{"op":"link-set","name":"macvtap0","up":true,"address":"1a:46:0b:ca:bc:7b"}""" },
        { "link set m0 mode bridge", """{"op":"link-set","name":"m0","mode":"bridge"}""" },
        { "link set m0 type macvtap mode bridge", """{"op":"link-set","name":"m0","mode":"bridge"}""" },
        { "link set m0 type macvlan mode passthru nopromisc",
            """{"op":"link-set","name":"m0","mode":"passthru","flags":["nopromisc"]}""" },
        { "link set m0 netns ns1", """{"op":"link-set","name":"m0","netns":"ns1"}""" },
        { "link set m0 macaddr add 02:00:00:00:00:01",
            """{"op":"link-set","name":"m0","macaddr_operation":"add","macaddrs":["02:00:00:00:00:01"]}""" },
        { "link set m0 macaddr del 02:00:00:00:00:01 02:00:00:00:00:02",
            """{"op":"link-set","name":"m0","macaddr_operation":"del","macaddrs":["02:00:00:00:00:01","02:00:00:00:00:02"]}""" },
        { "link set m0 macaddr set 02:00:00:00:00:01 02:00:00:00:00:02 up",
            """{"op":"link-set","name":"m0","up":true,"macaddr_operation":"set","macaddrs":["02:00:00:00:00:01","02:00:00:00:00:02"]}""" },
        { "link set m0 macaddr set", """{"op":"link-set","name":"m0","macaddr_operation":"set","macaddrs":[]}""" },
        { "link set m0 macaddr flush", """{"op":"link-set","name":"m0","macaddr_operation":"flush","macaddrs":[]}""" },
        { "link set m0 bcqueuelen 5 bclim -1", """{"op":"link-set","name":"m0","bc_queue_len":5,"bc_cutoff":-1}""" },
        { "link set m0 spoofchk on owner bob group 100",
            """{"op":"link-set","name":"m0","owner":"bob","group":"100","spoof_check":true}""" },
        { "link set m0 guestmem any up", """{"op":"link-set","name":"m0","up":true,"guest_memory":"any"}""" },
        { "link set m0 type macvtap guestmem sealed", """{"op":"link-set","name":"m0","guest_memory":"sealed"}""" },
        // guestmem is matched whole: a device may be called g or guest
        { "link set g up", """{"op":"link-set","name":"g","up":true}""" },
        { "link set m0 mtu 9000 txqlen 64", """{"op":"link-set","name":"m0","mtu":9000,"tx_queue_len":64}""" },

        // link delete
        { "link del m0", """{"op":"link-del","name":"m0"}""" },
        { "link delete m0", """{"op":"link-del","name":"m0"}""" },
        { "link d m0", """{"op":"link-del","name":"m0"}""" },
        { "link del dev m0", """{"op":"link-del","name":"m0"}""" },
        { "link del m0 type macvtap", """{"op":"link-del","name":"m0"}""" },

        // link show and its synonyms
        { "link", """{"op":"link-show"}""" },
        { "l", """{"op":"link-show"}""" },
        { "link show", """{"op":"link-show"}""" },
        { "link show m0", """{"op":"link-show","name":"m0"}""" },
        { "link sh dev m0", """{"op":"link-show","name":"m0"}""" },
        { "link list m0", """{"op":"link-show","name":"m0"}""" },
        { "link lst m0", """{"op":"link-show","name":"m0"}""" },
        { "link l m0", """{"op":"link-show","name":"m0"}""" },
        { "-j -d link show macvtap0", """{"op":"link-show","name":"macvtap0"}""" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void Command_produces_request(string commandLine, string expectedRequest)
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0 with { Name = "m0" }, SampleLinks.Macvtap0] };
        var r = CliRun.Run(backend, commandLine.Split(' '));
        Assert.Equal("", r.Stderr);
        Assert.Equal(0, r.Exit);
        var request = Assert.Single(backend.Requests);
        Assert.Equal(expectedRequest, CliRun.Json(request));
    }

    [Theory]
    [InlineData("link help")]
    [InlineData("link h")]
    [InlineData("link add help")]
    [InlineData("link set m0 help")]
    public void Link_help_prints_usage_and_asks_nothing(string commandLine)
    {
        var backend = new RecordingLinkBackend();
        var r = CliRun.Run(backend, commandLine.Split(' '));
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("Usage: mvtap link add link LOWER", r.Stdout);
        Assert.Empty(backend.Requests);
    }

    [Theory]
    [InlineData("help")]
    [InlineData("h")]
    [InlineData("-help")]
    [InlineData("--help")]
    public void Help_prints_main_usage(string arg)
    {
        var r = CliRun.Run(new RecordingLinkBackend(), arg);
        Assert.Equal(0, r.Exit);
        Assert.StartsWith("Usage: mvtap [ OPTIONS ] OBJECT { COMMAND | help }", r.Stdout);
    }

    [Fact]
    public void Show_filters_up_and_type()
    {
        var backend = new RecordingLinkBackend { Links = [SampleLinks.Macvtap0, SampleLinks.SourceMacvlan] };
        Assert.StartsWith("4: macvtap0@eth1", CliRun.Run(backend, "link", "show", "up").Stdout);
        Assert.DoesNotContain("mv1", CliRun.Run(backend, "link", "show", "up").Stdout);
        Assert.StartsWith("7: mv1@eth1", CliRun.Run(backend, "link", "show", "type", "macvlan").Stdout);
    }

    [Fact]
    public void Demo_is_routed_to_the_demo_entry_point()
    {
        var backend = new RecordingLinkBackend();
        // `demo sim` keeps to the in-process sim lower (plain `demo` as root builds a namespace lab:
        // Mvtap.Daemon.Tests runs that one); `demo garbage` is a bad command line
        Assert.Equal(0, CliRun.Run(backend, "demo", "sim").Exit);
        Assert.Equal(2, CliRun.Run(backend, "demo", "garbage").Exit);
        Assert.Empty(backend.Requests);
    }
}
