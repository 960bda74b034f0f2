// A frontend broke the protocol (bad size, unknown request, wrong descriptors...). The session
// that raised it is closed; the backend and every other endpoint carry on.
namespace Mvtap.VhostUser.Protocol;

public sealed class VhostUserProtocolException(string message) : Exception(message);
