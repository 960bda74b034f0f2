// One received request: its header, its payload (a view into the connection's buffer, valid
// until the next read) and the descriptors that came with it. A handler takes ownership of
// the descriptors it keeps; the connection closes the rest after the message is handled.
using Mvtap.Linux.Interop;

namespace Mvtap.VhostUser.Protocol;

public sealed class VhostUserMessage
{
    private readonly FileDescriptor?[] _fds = new FileDescriptor?[VhostUserPayload.MaxMemoryRegions];
    private byte[] _payload = [];

    public VhostUserHeader Header { get; private set; }
    public VhostUserRequest Request => (VhostUserRequest)Header.Request;
    public ReadOnlySpan<byte> Payload => _payload.AsSpan(0, (int)Header.Size);
    public int FdCount { get; private set; }

    internal void Set(VhostUserHeader header, byte[] payload, List<FileDescriptor> fds)
    {
        DisposeFds();
        Header = header;
        _payload = payload;
        FdCount = fds.Count;
        for (int i = 0; i < fds.Count; i++) _fds[i] = fds[i];
        fds.Clear();
    }

    /// <summary>Takes ownership of descriptor <paramref name="i"/>.</summary>
    public FileDescriptor TakeFd(int i)
    {
        if ((uint)i >= (uint)FdCount) throw new VhostUserProtocolException($"{Request}: descriptor {i} missing");
        var fd = _fds[i] ?? throw new InvalidOperationException($"descriptor {i} already taken");
        _fds[i] = null;
        return fd;
    }

    /// <summary>Closes every descriptor no handler took.</summary>
    public void DisposeFds()
    {
        for (int i = 0; i < _fds.Length; i++)
        {
            _fds[i]?.Dispose();
            _fds[i] = null;
        }
        FdCount = 0;
    }
}
