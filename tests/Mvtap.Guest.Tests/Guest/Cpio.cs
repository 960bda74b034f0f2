// A writer for the cpio "newc" format the kernel unpacks as an initramfs, so the image builder
// needs no cpio binary: directories, regular files, symlinks and device nodes, nothing else.
using System.Text;

namespace Mvtap.Guest.Tests.Guest;

internal sealed class Cpio
{
    private readonly MemoryStream _out = new();
    private int _ino = 1;

    public void Directory(string path) => Entry(path, 0x4000 | 0b111_101_101, [], 0, 0);
    public void File(string path, byte[] data, bool executable) =>
        Entry(path, 0x8000 | (executable ? 0b111_101_101 : 0b110_100_100), data, 0, 0);
    public void Symlink(string path, string target) => Entry(path, 0xA000 | 0b111_111_111, Encoding.UTF8.GetBytes(target), 0, 0);
    public void CharDevice(string path, int major, int minor) => Entry(path, 0x2000 | 0b110_000_000, [], major, minor);

    public byte[] Finish()
    {
        Entry("TRAILER!!!", 0, [], 0, 0);
        return _out.ToArray();
    }

    private void Entry(string name, int mode, byte[] data, int rdevMajor, int rdevMinor)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder("070701");
        foreach (var field in new[] { _ino++, mode, 0, 0, 1, 0, data.Length, 0, 0, rdevMajor, rdevMinor, nameBytes.Length + 1, 0 })
            header.Append(field.ToString("x8"));
        _out.Write(Encoding.ASCII.GetBytes(header.ToString()));
        _out.Write(nameBytes);
        _out.WriteByte(0);
        Pad();
        _out.Write(data);
        Pad();
    }

    // newc aligns both the name (after the 110-byte header) and the data to 4 bytes.
    private void Pad()
    {
        while (_out.Length % 4 != 0) _out.WriteByte(0);
    }
}
