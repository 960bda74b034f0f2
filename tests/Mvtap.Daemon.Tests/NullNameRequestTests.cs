// Requests whose endpoint name is JSON null or missing (found by the control-requests fuzz
// target's corpus after the name checks landed): refused as an unknown device, not a
// NullReferenceException out of the message that names it.
using Microsoft.Extensions.Logging.Abstractions;
using Mvtap.Control;
using Mvtap.Daemon.Links;

namespace Mvtap.Daemon.Tests;

public sealed class NullNameRequestTests
{
    [Fact]
    public void A_request_without_a_name_is_refused_as_an_unknown_device()
    {
        using var r = new LinkRegistry(_ => null, store: null, NullLogger.Instance, "/nonexistent");
        var tap = ControlCodec.DecodeRequest("{\"op\":\"tap-fd\",\"name\":null}"u8);
        Assert.Equal(19, r.OpenTap((TapFdRequest)tap, 0, 0).Response.Error!.Errno);
        var del = ControlCodec.DecodeRequest("{\"op\":\"link-del\"}"u8);
        Assert.Equal(19, r.Handle(del).Error!.Errno);
        var set = ControlCodec.DecodeRequest("{\"op\":\"link-set\",\"name\":null,\"up\":true}"u8);
        Assert.Equal(19, r.Handle(set).Error!.Errno);
    }
}
