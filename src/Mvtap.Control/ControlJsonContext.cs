// Source-generated System.Text.Json metadata for the control protocol (no reflection, AOT-safe).
// Property names are snake_case on the wire: {"op":"link-add","lower":"eth1","bc_queue_len":7,...}.
using System.Text.Json.Serialization;

namespace Mvtap.Control;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
[JsonSerializable(typeof(LinkEvent))]
[JsonSerializable(typeof(Capture.CaptureSummary))]
public sealed partial class ControlJsonContext : JsonSerializerContext;
