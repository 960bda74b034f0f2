// `mvtap run NAME -- COMMAND...`: asks mvtapd for a kernel TAP relayed into the macvtap endpoint
// NAME (a TapFdRequest; the TAP's queue descriptor arrives after the answer with SCM_RIGHTS),
// then becomes COMMAND with that descriptor as fd 3, so the seed's `qemu ... -netdev tap,fd=3`
// works as written. The TAP lives as long as COMMAND holds the descriptor.
using System.Buffers.Binary;
using Mvtap.Control;
using Mvtap.Core.Model;
using Mvtap.Linux.Interop;

namespace Mvtap.Cli;

internal static class RunCommand
{
    public const int TapFd = 3;
    private const int TimeoutMs = 10_000;

    public const string Usage =
        "Usage: mvtap run DEVICE -- COMMAND [ARGS...]\n" +
        "       runs COMMAND with a tap queue of the macvtap endpoint DEVICE as fd 3\n" +
        "       (e.g. mvtap run vm0 -- qemu-system-x86_64 ... -netdev tap,id=net0,fd=3 -device virtio-net-pci,netdev=net0).\n";

    public static int Run(IReadOnlyList<string> args, string runDir, TextWriter stderr)
    {
        int separator = -1;
        for (int i = 0; i < args.Count; i++) if (args[i] == "--") { separator = i; break; }
        if (separator != 1 || separator == args.Count - 1)
        {
            stderr.Write(Usage);
            return CommandLineException.ExitStatus;
        }
        string name = ArgumentValues.ParseInterfaceName(args[0], "dev", naming: false);
        var command = args.Skip(separator + 1).ToList();

        FileDescriptor? requested;
        try
        {
            requested = RequestTap(ControlPaths.SocketPath(runDir), name, stderr);
        }
        catch (SystemCallException e)
        {
            // the connection failed under us (reset, broken pipe): said as the CLI says it for other requests
            throw new ControlProtocolException($"the control connection to mvtapd failed: {e.Message}");
        }
        using var tap = requested;
        if (tap is null) return LinkOperationException.ExitStatus;
        stderr.Flush();
        Console.Out.Flush();
        int errno = Exec.ReplaceProcess(tap, TapFd, command);
        stderr.WriteLine($"mvtap run: cannot run {command[0]}: {new System.ComponentModel.Win32Exception(errno).Message}");
        return errno == (int)Errno.ENOENT ? 127 : 126;
    }

    /// <summary>One control request, answered by a response frame and then one byte carrying the descriptor.</summary>
    private static FileDescriptor? RequestTap(string socketPath, string name, TextWriter stderr)
    {
        // The frame is made before connecting: mvtapd gives a connection 5 s to send its request,
        // and a fresh process on a busy machine can take that long to encode its first JSON.
        var payload = ControlCodec.EncodeRequest(new TapFdRequest { Name = name });
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame, 4);
        using var socket = UnixSocket.Create();
        int errno = UnixSocket.Connect(socket, socketPath);
        if (errno != 0)
            throw new ControlProtocolException($"Cannot connect to mvtapd at {socketPath}: {new System.ComponentModel.Win32Exception(errno).Message} (is mvtapd running?)");
        for (int sent = 0; sent < frame.Length;) sent += UnixSocket.Send(socket, frame.AsSpan(sent));

        var fds = new List<FileDescriptor>();
        try
        {
            var header = new byte[4];
            ReadExactly(socket, header, fds);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (length > ControlFraming.MaxFrameSize) throw new ControlProtocolException($"control frame of {length} bytes exceeds the maximum");
            var body = new byte[length];
            ReadExactly(socket, body, fds);
            var response = ControlCodec.DecodeResponse(body);
            if (!response.Ok)
            {
                var error = response.Error ?? new ControlError((int)Errno.EINVAL, "refused");
                stderr.WriteLine(RefusalMessage.Format(error.Errno, error.Message));
                return null;
            }
            ReadExactly(socket, new byte[1], fds);
            if (fds.Count != 1) throw new ControlProtocolException("mvtapd sent no tap descriptor");
            var fd = fds[0];
            fds.Clear();
            return fd;
        }
        finally
        {
            foreach (var f in fds) f.Dispose();
        }
    }

    private static void ReadExactly(FileDescriptor socket, byte[] buffer, List<FileDescriptor> fds)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            if ((Sockets.Poll(socket.Fd, Sockets.POLLIN, TimeoutMs) & Sockets.POLLIN) == 0)
                throw new ControlProtocolException($"no answer from mvtapd within {TimeoutMs / 1000} s");
            int n = UnixSocket.Receive(socket, buffer.AsSpan(got), fds, 1, out _);
            if (n == 0) throw new ControlProtocolException("mvtapd closed the control connection without answering");
            got += n;
        }
    }
}
