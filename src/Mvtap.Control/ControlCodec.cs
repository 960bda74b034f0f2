// Turns requests, responses and monitor events into frame payloads and back, through the source-generated
// ControlJsonContext. Both sides (mvtap and mvtapd) use these so the wire format has one owner.
using System.Text.Json;

namespace Mvtap.Control;

public static class ControlCodec
{
    public static byte[] EncodeRequest(ControlRequest request) =>
        JsonSerializer.SerializeToUtf8Bytes(request, ControlJsonContext.Default.ControlRequest);

    public static byte[] EncodeResponse(ControlResponse response) =>
        JsonSerializer.SerializeToUtf8Bytes(response, ControlJsonContext.Default.ControlResponse);

    public static ControlRequest DecodeRequest(ReadOnlySpan<byte> payload)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, ControlJsonContext.Default.ControlRequest)
                   ?? throw new ControlProtocolException("control request is JSON null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new ControlProtocolException($"undecodable control request: {e.Message}", e);
        }
    }

    public static ControlResponse DecodeResponse(ReadOnlySpan<byte> payload)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, ControlJsonContext.Default.ControlResponse)
                   ?? throw new ControlProtocolException("control response is JSON null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new ControlProtocolException($"undecodable control response: {e.Message}", e);
        }
    }

    public static byte[] EncodeEvent(LinkEvent e) =>
        JsonSerializer.SerializeToUtf8Bytes(e, ControlJsonContext.Default.LinkEvent);

    public static LinkEvent DecodeEvent(ReadOnlySpan<byte> payload)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, ControlJsonContext.Default.LinkEvent)
                   ?? throw new ControlProtocolException("link event is JSON null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new ControlProtocolException($"undecodable link event: {e.Message}", e);
        }
    }
}
