// A copy of this test assembly's build output (which holds mvtap.dll and mvtapd.dll too) in a
// temporary directory everyone may read, for a test that runs a program as another user (uid
// 65534): the checkout itself may be readable by root only (CI clones into `mktemp -d`), and a
// test must not depend on where the checkout lives. Dispose removes the copy.
namespace Mvtap.Daemon.Tests;

internal sealed class ReadableBuildCopy : IDisposable
{
    private const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Traversable = Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    public ReadableBuildCopy()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("mvtap-readable-").FullName;
        File.SetUnixFileMode(Directory, Traversable);
        // the top level is the whole program: no package of the CLI or the daemon has native parts in runtimes/
        foreach (var file in System.IO.Directory.GetFiles(AppContext.BaseDirectory))
        {
            var copy = Path.Combine(Directory, Path.GetFileName(file));
            File.Copy(file, copy);
            File.SetUnixFileMode(copy, Readable);
        }
    }

    public string Directory { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
