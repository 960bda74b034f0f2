// Control requests from any client of the socket whose fields are missing or JSON null: a required
// field (the lower, the type, the device of set/del/tap-fd, the CNI attachment's fields) is refused
// in ip's words and leaves nothing behind; an optional one is "not given" and takes the kernel's
// default, exactly as when it is absent. Never an exception out of the decoder or the registry
// (found first as a NullReferenceException naming a null device, then by probing every field).
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Control;
using Mvtap.Daemon.Links;
using Mvtap.Core.Model;

namespace Mvtap.Daemon.Tests;

public sealed class MissingAndNullRequestFieldTests
{
    private static LinkRegistry Registry() => new(_ => null, store: null, NullLogger.Instance, "/nonexistent");

    private static ControlResponse Send(LinkRegistry r, string json)
    {
        var request = ControlCodec.DecodeRequest(System.Text.Encoding.UTF8.GetBytes(json));
        return request is TapFdRequest tap ? r.OpenTap(tap, 0, 0).Response : r.Handle(request);
    }

    public static TheoryData<string, string> RequiredFieldsLeftOut() => new()
    {
        { """{"op":"link-add","type":"macvtap"}""", "link" },
        { """{"op":"link-add","lower":null,"type":"macvtap"}""", "link" },
        { """{"op":"link-add","lower":"sim0"}""", "type" },
        { """{"op":"link-add","lower":"sim0","type":null,"name":"x0"}""", "type" },
        { """{"op":"link-set","up":true}""", "dev" },
        { """{"op":"link-set","name":null,"up":true}""", "dev" },
        { """{"op":"link-del"}""", "dev" },
        { """{"op":"link-del","name":null}""", "dev" },
        { """{"op":"tap-fd"}""", "dev" },
        { """{"op":"tap-fd","name":null}""", "dev" },
    };

    [Theory]
    [MemberData(nameof(RequiredFieldsLeftOut))]
    public void A_required_field_missing_or_null_is_refused_as_ip_refuses_the_missing_argument(string json, string keyword)
    {
        using var r = Registry();
        Assert.True(Send(r, """{"op":"link-add","lower":"sim0","name":"mv0","type":"macvtap"}""").Ok);
        var response = Send(r, json);
        Assert.False(response.Ok);
        Assert.Equal((int)Errno.EINVAL, response.Error!.Errno);
        Assert.Equal($"Not enough information: \"{keyword}\" argument is required", response.Error.Message);
        var shown = Send(r, """{"op":"link-show"}""");
        Assert.Equal(["mv0"], shown.Links!.Select(l => l.Name));
    }

    [Theory]
    [InlineData("container_id", "container id")]
    [InlineData("if_name", "ifname")]
    [InlineData("network", "network")]
    public void A_CNI_attachment_field_missing_or_null_is_refused_and_nothing_is_added(string field, string words)
    {
        foreach (var value in new[] { "null", null })
        {
            using var r = Registry();
            var fields = new Dictionary<string, string> { ["container_id"] = "\"c1\"", ["if_name"] = "\"eth0\"", ["network"] = "\"n\"" };
            if (value is null) fields.Remove(field); else fields[field] = value;
            var cni = string.Join(',', fields.Select(f => $"\"{f.Key}\":{f.Value}"));
            var response = Send(r, """{"op":"link-add","lower":"sim0","type":"macvtap","cni":{""" + cni + "}}");
            Assert.False(response.Ok);
            Assert.Equal($"the CNI attachment's {words} is empty", response.Error!.Message);
            Assert.Empty(Send(r, """{"op":"link-show"}""").Links!);
        }
    }

    [Fact]
    public void Optional_fields_given_as_null_are_the_kernels_defaults_as_when_left_out()
    {
        const string optional = "\"mode\":null,\"flags\":null,\"address\":null,\"bc_queue_len\":null,\"bc_cutoff\":null,"
            + "\"macaddr_operation\":null,\"macaddrs\":null,\"owner\":null,\"group\":null,\"spoof_check\":null,\"mtu\":null,"
            + "\"tx_queue_len\":null,\"netns\":null,\"guest_memory\":null,\"up\":null,\"cni\":null,\"vhost_user_path\":null,\"tap_name\":null";
        using var withNulls = Registry();
        using var without = Registry();
        var a = Send(withNulls, $$"""{"op":"link-add","lower":"sim0","name":"mv0","type":"macvtap",{{optional}}}""");
        var b = Send(without, """{"op":"link-add","lower":"sim0","name":"mv0","type":"macvtap"}""");
        Assert.True(a.Ok, a.Error?.Message);
        Assert.True(b.Ok, b.Error?.Message);
        var shownA = ControlCodec.EncodeResponse(Send(withNulls, """{"op":"link-show","name":"mv0"}"""));
        var shownB = ControlCodec.EncodeResponse(Send(without, """{"op":"link-show","name":"mv0"}"""));
        // the MAC is random per endpoint: compare everything else
        static string NoMac(byte[] json) => System.Text.RegularExpressions.Regex.Replace(System.Text.Encoding.UTF8.GetString(json), "([0-9a-f]{2}:){5}[0-9a-f]{2}", "MAC");
        Assert.Equal(NoMac(shownB), NoMac(shownA));

        var set = Send(withNulls, """{"op":"link-set","name":"mv0","new_name":null,"up":null,"address":null,"mode":null,"flags":null,"bc_queue_len":null,"bc_cutoff":null,"netns":null,"macaddr_operation":null,"macaddrs":null,"owner":null,"group":null,"spoof_check":null,"mtu":null,"tx_queue_len":null,"guest_memory":null}""");
        Assert.True(set.Ok, set.Error?.Message);
        Assert.Equal(NoMac(shownA), NoMac(ControlCodec.EncodeResponse(Send(withNulls, """{"op":"link-show","name":"mv0"}"""))));
    }

    [Fact]
    public void The_decoder_gives_a_required_string_missing_or_null_as_empty_never_null()
    {
        var add = (LinkAddRequest)ControlCodec.DecodeRequest("""{"op":"link-add","lower":null,"cni":{"if_name":null}}"""u8);
        Assert.Equal("", add.Lower);
        Assert.Equal("", add.Type);
        Assert.Equal(("", "", ""), (add.Cni!.ContainerId, add.Cni.IfName, add.Cni.Network));
        Assert.Equal("", ((LinkSetRequest)ControlCodec.DecodeRequest("""{"op":"link-set","name":null}"""u8)).Name);
        Assert.Equal("", ((LinkDelRequest)ControlCodec.DecodeRequest("""{"op":"link-del"}"""u8)).Name);
        Assert.Equal("", ((TapFdRequest)ControlCodec.DecodeRequest("""{"op":"tap-fd","name":null}"""u8)).Name);
    }

    [Fact]
    public void Null_entries_in_a_list_are_refused_as_unknown_values_and_leave_nothing_behind()
    {
        using var r = Registry();
        var flags = Send(r, """{"op":"link-add","lower":"sim0","name":"mv0","type":"macvtap","flags":[null]}""");
        Assert.Equal((int)Errno.EINVAL, flags.Error!.Errno);
        var macs = Send(r, """{"op":"link-add","lower":"sim0","name":"mv0","type":"macvtap","mode":"source","macaddr_operation":"set","macaddrs":[null]}""");
        Assert.Equal((int)Errno.EINVAL, macs.Error!.Errno);
        Assert.Empty(Send(r, """{"op":"link-show"}""").Links!);
    }
}
