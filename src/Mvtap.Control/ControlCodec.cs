// Turns requests, responses and monitor events into frame payloads and back, through the
// source-generated ControlJsonContext. Both sides (mvtap and mvtapd) use these so the wire format
// has one owner.
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Mvtap.Control;

public static class ControlCodec
{
    public static byte[] EncodeRequest(ControlRequest request) =>
        JsonSerializer.SerializeToUtf8Bytes(request, ControlJsonContext.Default.ControlRequest);

    public static byte[] EncodeResponse(ControlResponse response) =>
        JsonSerializer.SerializeToUtf8Bytes(response, ControlJsonContext.Default.ControlResponse);

    public static byte[] EncodeEvent(LinkEvent e) =>
        JsonSerializer.SerializeToUtf8Bytes(e, ControlJsonContext.Default.LinkEvent);

    public static ControlRequest DecodeRequest(ReadOnlySpan<byte> payload) =>
        Decode(payload, ControlJsonContext.Default.ControlRequest, "control request");

    public static ControlResponse DecodeResponse(ReadOnlySpan<byte> payload) =>
        Decode(payload, ControlJsonContext.Default.ControlResponse, "control response");

    public static LinkEvent DecodeEvent(ReadOnlySpan<byte> payload) =>
        Decode(payload, ControlJsonContext.Default.LinkEvent, "link event");

    private static T Decode<T>(ReadOnlySpan<byte> payload, JsonTypeInfo<T> type, string what) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(payload, type)
                   ?? throw new ControlProtocolException($"{what} is JSON null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new ControlProtocolException($"undecodable {what}: {e.Message}", e);
        }
    }
}
