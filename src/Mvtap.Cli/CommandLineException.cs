// A bad command line: printed to stderr as is (ip's wording) and turned into exit status 2.
namespace Mvtap.Cli;

internal sealed class CommandLineException(string message) : Exception(message)
{
    public const int ExitStatus = 2;
}
