// A broken conversation on the control socket: oversized or truncated frame, undecodable JSON,
// timeout, or no daemon listening. Distinct from a refused operation (ControlResponse.Error).
namespace Mvtap.Control;

public sealed class ControlProtocolException : Exception
{
    public ControlProtocolException(string message) : base(message) { }
    public ControlProtocolException(string message, Exception inner) : base(message, inner) { }
}
