// A CNI failure as the spec reports it (SPEC.md section 5, "Error"): a code, a short message and
// details, printed as JSON on stdout with a non-zero exit. Codes below 100 are the spec's; 100+
// are this plugin's own.
namespace Mvtap.Cni;

internal sealed class CniError(int code, string message, string details = "") : Exception(message)
{
    public const int IncompatibleVersion = 1;
    public const int UnsupportedField = 2;
    public const int UnknownContainer = 3;
    public const int InvalidEnvironment = 4;
    public const int IoFailure = 5;
    public const int DecodingFailure = 6;
    public const int InvalidConfig = 7;
    public const int TryAgainLater = 11;
    public const int NotAvailable = 50;
    /// <summary>CHECK found the attachment other than its prevResult and configuration say.</summary>
    public const int CheckFailed = 100;
    /// <summary>mvtapd refused the request (its errno and message in details and msg).</summary>
    public const int Refused = 101;
    /// <summary>A failure the plugin did not expect (as libcni's ErrInternal).</summary>
    public const int Internal = 999;

    public int Code { get; } = code;
    public string Details { get; } = details;
}
