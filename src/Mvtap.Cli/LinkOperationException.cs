// An operation the backend refused (duplicate name, unknown lower, address in use, ...):
// the errno the kernel would return and a message naming the conflict. Exit status 1.
namespace Mvtap.Cli;

internal sealed class LinkOperationException(int errno, string message) : Exception(message)
{
    public const int ExitStatus = 1;

    public LinkOperationException(Mvtap.Core.Model.Errno errno, string message) : this((int)errno, message) { }

    public int Errno { get; } = errno;
}
