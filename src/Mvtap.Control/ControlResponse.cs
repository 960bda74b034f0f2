// The daemon's answer to one request: success (with the endpoints for a show), or a refusal
// carrying the errno the kernel would have returned and a message that names the conflict.
namespace Mvtap.Control;

public sealed record ControlResponse
{
    public bool Ok { get; init; }
    /// <summary>Set when Ok is false.</summary>
    public ControlError? Error { get; init; }
    /// <summary>For LinkShowRequest (and for add, the created endpoint); null otherwise.</summary>
    public List<LinkView>? Links { get; init; }

    public static ControlResponse Success(List<LinkView>? links = null) => new() { Ok = true, Links = links };

    public static ControlResponse Failure(int errno, string message) =>
        new() { Ok = false, Error = new ControlError(errno, message) };
}

/// <summary>A refusal: Errno is the Linux errno (98 EADDRINUSE, 99 EADDRNOTAVAIL, 22 EINVAL,
/// 19 ENODEV, 17 EEXIST, ...); Message reads like an ip extack message without the final period,
/// e.g. "address 1a:46:0b:ca:bc:7b is in use by macvtap1".</summary>
public sealed record ControlError(int Errno, string Message);
