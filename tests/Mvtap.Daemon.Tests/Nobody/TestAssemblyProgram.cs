// The entry point of this test assembly when it runs as a program (`dotnet
// Mvtap.Daemon.Tests.dll COMMAND ...`, see NobodyProgram); the test runner never calls it.
// Commands:
//   truncating-frontend SOCKET   TruncatingFrontend.Run: shares unsealed guest memory over
//                                vhost-user, then truncates it under the backend and kicks
namespace Mvtap.Daemon.Tests.Nobody;

internal static class TestAssemblyProgram
{
    public static int Main(string[] args)
    {
        if (args is ["truncating-frontend", var socket]) return TruncatingFrontend.Run(socket);
        Console.Error.WriteLine("usage: Mvtap.Daemon.Tests.dll truncating-frontend SOCKET");
        return 2;
    }
}
