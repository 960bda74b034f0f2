// What a client writes on mvtapd's control socket: length-prefixed frames (ControlFraming, the
// daemon's own reader), JSON decoded by ControlCodec, then each request carried out by the
// daemon's LinkRegistry against sim lowers, one registry for the whole input so requests build
// on each other (add, set, del, show, tap-fd). Documented refusals (ControlProtocolException
// for framing and JSON, a failed ControlResponse for a refused change) are the only outcomes
// allowed; every response must encode and decode again (the CLI reads it).
using Mvtap.Control;
using Mvtap.Fuzz.Support;

namespace Mvtap.Fuzz.Targets;

public static class ControlRequestsTarget
{
    public static void Run(ReadOnlySpan<byte> data)
    {
        using var registry = SimRegistry.Create();
        using var stream = new MemoryStream(data.ToArray(), writable: false);
        while (true)
        {
            byte[]? payload;
            try { payload = ControlFraming.ReadFrame(stream); }
            catch (ControlProtocolException) { return; } // the server answers and closes the connection
            if (payload is null) return;

            ControlResponse response;
            try
            {
                var request = ControlCodec.DecodeRequest(payload);
                response = request is TapFdRequest tap ? registry.OpenTap(tap, 0, 0).Response : registry.Handle(request);
            }
            catch (ControlProtocolException e)
            {
                response = ControlResponse.Failure(22, $"malformed request: {e.Message}");
            }
            if (response.Ok == (response.Error is not null)) throw new InvalidOperationException("a response both ok and failed, or neither");
            var again = ControlCodec.DecodeResponse(ControlCodec.EncodeResponse(response));
            if (again.Ok != response.Ok || again.Links?.Count != response.Links?.Count)
                throw new InvalidOperationException("a response that does not survive encoding");
        }
    }
}
