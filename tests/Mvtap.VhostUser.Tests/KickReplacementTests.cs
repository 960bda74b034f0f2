// Kick eventfds replaced while frames flow through a real datapath thread (root: a veth lower
// in a private namespace). The control thread that receives a new SET_VRING_KICK must not close
// the old descriptor while the datapath may still have it in its epoll set: a closed number is
// reused by the next open (often the other endpoint's next kick), and an epoll entry whose
// file outlives the number (the frontend keeps its eventfd) can then neither be removed nor
// told apart. The test keeps every old kick open and kicks it too, like a frontend with a
// stale notifier, checks every frame in lockstep, and at the end requires the datapath's epoll
// set to hold exactly the lower, its wake-up eventfd and the two current kicks. Side and
// ThrowawayLower also serve BlockingDescriptorTests.
using System.Buffers.Binary;
using System.Diagnostics;
using Mvtap.Core.Frames;
using Mvtap.Core.Model;
using Mvtap.Datapath;
using Mvtap.Linux.Interop;
using Mvtap.VhostUser.Net;
using Mvtap.VhostUser.Protocol;
using Mvtap.VhostUser.Tests.Frontend;

namespace Mvtap.VhostUser.Tests;

public sealed class KickReplacementTests
{
    private const int Iterations = 1500;
    private const int FrameLength = 64;
    private const ushort EtherType = 0x88b5; // IEEE local experimental

    [Fact]
    public void Replacing_kicks_while_frames_flow_leaves_no_stale_or_foreign_epoll_entry()
    {
        Assert.True(TestHost.IsRoot, "needs root (network namespace, AF_PACKET)");
        using var ns = new ThrowawayLower();
        using var lower = new PacketLower(ThrowawayLower.LowerName, ns.Name);
        using var datapath = new LowerDatapath(lower);
        using var a = new Side(datapath, "vka", MacAddress.Parse("02:4b:00:00:00:0a"));
        using var b = new Side(datapath, "vkb", MacAddress.Parse("02:4b:00:00:00:0b"));

        for (int i = 0; i < Iterations; i++)
        {
            // now and then the frontend goes away instead (the backend closes every kick) and
            // comes back with new rings
            if (i % 100 == 99) a.Reconnect(i);
            a.ReplaceKick();
            b.ReplaceKick();
            a.Send(b.Mac, i);
            b.Send(a.Mac, i);
            a.ExpectFrom(b.Mac, i);
            b.ExpectFrom(a.Mac, i);
        }

        Assert.Null(datapath.Fault);
        int lowerFd = lower.Socket.Handle.Fd;
        int[] expected = [lowerFd, a.Backend.GetKickFd(1), b.Backend.GetKickFd(1)];
        IReadOnlyList<int> watched = [];
        // the last replacements' resyncs are asynchronous: wait (bounded) for the datapath to settle
        bool settled = SpinWait.SpinUntil(() =>
        {
            watched = EpollTargets(lowerFd);
            return watched.Count == 4 && watched.Distinct().Count() == 4 && expected.All(watched.Contains);
        }, TestFrontend.Timeout);
        Assert.True(settled, $"epoll set holds {watched.Count} entries ({watched.Count - watched.Distinct().Count()} repeated numbers; " +
            $"first: {string.Join(", ", watched.Take(12))}), expected 4: the wake-up eventfd and [{string.Join(", ", expected)}]");
        Assert.Equal(Iterations, Volatile.Read(ref a.Endpoint.Counters.TxPackets));
        Assert.Equal(0, Volatile.Read(ref a.Endpoint.Counters.RxDropped) + Volatile.Read(ref b.Endpoint.Counters.RxDropped));
    }

    /// <summary>The target descriptors of the epoll instance (of this process) that watches
    /// <paramref name="lowerFd"/>, one entry per registration, from /proc/self/fdinfo.</summary>
    private static List<int> EpollTargets(int lowerFd)
    {
        foreach (var link in Directory.GetFiles("/proc/self/fd"))
        {
            string? target;
            try { target = new FileInfo(link).LinkTarget; } catch (IOException) { continue; }
            if (target != "anon_inode:[eventpoll]") continue;
            string info;
            try { info = File.ReadAllText($"/proc/self/fdinfo/{Path.GetFileName(link)}"); } catch (IOException) { continue; }
            var tfds = info.Split('\n').Where(l => l.StartsWith("tfd:"))
                .Select(l => int.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])).ToList();
            if (tfds.Contains(lowerFd)) return tfds;
        }
        throw new InvalidOperationException("no epoll instance watches the lower's socket");
    }

    /// <summary>One macvtap endpoint in bridge mode with a vhost-user backend attached to the
    /// datapath, and the test's frontend for it: one queue pair, lockstep traffic.</summary>
    internal sealed class Side : IDisposable
    {
        private readonly LowerDatapath _datapath;
        private readonly BackendHarness _h;
        private readonly VhostUserAttachment _attachment;
        private TestFrontend _f = null!;
        private TestGuestMemory _m = null!;
        private TestVring _rx = null!, _tx = null!;
        private ulong[] _rxBufs = [], _txBufs = [];
        private readonly List<FileDescriptor> _oldKicks = [];
        private FileDescriptor _kick = null!;
        private int _posted;
        private int _base; // the sequence number the current connection started with

        public Side(LowerDatapath datapath, string name, MacAddress mac)
        {
            _datapath = datapath;
            Mac = mac;
            Endpoint = datapath.Port.Create(new EndpointSettings { Name = name, Mac = mac, Mode = EndpointMode.Bridge });
            datapath.Port.SetUp(Endpoint, true);
            _h = new BackendHarness(maxQueuePairs: 1);
            _attachment = new VhostUserAttachment(Endpoint, _h.Backend);
            datapath.Attach(_attachment);
            Connect();
        }

        private void Connect()
        {
            (_f, _m, var rings) = _h.Up(Feature.Basic);
            _rx = rings[0];
            _tx = rings[1];
            _kick = _tx.KickFd;
            _rxBufs = new ulong[_rx.Size];
            _txBufs = new ulong[_tx.Size];
            for (int i = 0; i < _rx.Size; i++) { _rxBufs[i] = _m.Alloc(2048); _txBufs[i] = _m.Alloc(128); }
            // keep the RX ring stocked: one buffer per slot, re-posted as each is used
            for (_posted = 0; _posted < _rx.Size; _posted++) _rx.AddChain(new Seg(_rxBufs[_posted % _rx.Size], 2048, true));
        }

        /// <summary>Disconnects (old rings and kicks stay open on our side) and starts over.</summary>
        public void Reconnect(int seq)
        {
            _f.Dispose();
            BackendHarness.WaitUntil(() => !Backend.IsConnected, "the backend to see the disconnect");
            _oldKicks.Add(_kick);
            _base = seq;
            Connect();
        }

        public MacAddress Mac { get; }
        public Endpoint Endpoint { get; }
        public VhostUserNetBackend Backend => _h.Backend;

        /// <summary>A new eventfd for the TX ring; the old one stays open (and kicked) on our side.</summary>
        public void ReplaceKick()
        {
            var fresh = EventFd.Create();
            Assert.Equal(0UL, _f.SetU64(VhostUserRequest.SetVringKick, (ulong)_tx.Index, [fresh.Fd]));
            _oldKicks.Add(_kick);
            _kick = fresh;
        }

        /// <summary>Clears O_NONBLOCK on the TX kick, as a hostile frontend can: the descriptor
        /// it sent shares its open file description with ours.</summary>
        public void MakeTxKickBlocking() => FileIo.SetNonBlocking(_kick, false);

        /// <summary>Lets a datapath read blocked on the TX kick go (signals it), and a write blocked on
        /// the RX call (reads it), so a failing test can end.</summary>
        public void Unblock()
        {
            FileIo.SetNonBlocking(_kick, true);
            EventFd.Signal(_kick.Fd);
            FileIo.SetNonBlocking(_rx.CallFd, true);
            _rx.TakeCalls();
        }

        /// <summary>Clears O_NONBLOCK on the RX call and fills its counter to the largest value an
        /// eventfd holds, as a hostile frontend can: the next write of 1 into it blocks.</summary>
        public void JamRxCall()
        {
            _rx.TakeCalls();
            EventFd.Signal(_rx.CallFd.Fd, 0xffff_ffff_ffff_fffe);
            FileIo.SetNonBlocking(_rx.CallFd, false);
        }

        /// <summary>A new kick for the RX ring: the datapath re-reads every kick (a resync).</summary>
        public void ReplaceRxKick()
        {
            var fresh = EventFd.Create();
            Assert.Equal(0UL, _f.SetU64(VhostUserRequest.SetVringKick, (ulong)_rx.Index, [fresh.Fd]));
            _oldKicks.Add(fresh);
        }

        public void Send(MacAddress to, int seq)
        {
            var bytes = new byte[VirtioNetHeader.SizeWithBuffers + FrameLength];
            var frame = bytes.AsSpan(VirtioNetHeader.SizeWithBuffers);
            to.Write(frame);
            Mac.Write(frame[6..]);
            BinaryPrimitives.WriteUInt16BigEndian(frame[12..], EtherType);
            BinaryPrimitives.WriteInt32BigEndian(frame[14..], seq);
            ulong buf = _txBufs[seq % _txBufs.Length];
            bytes.CopyTo(_m.Span(buf, bytes.Length));
            _tx.AddChain(new Seg(buf, (uint)bytes.Length));
            // the last replaced kick too: a registration left behind for it would fire forever
            if (_oldKicks.Count > 0) EventFd.Signal(_oldKicks[^1].Fd);
            EventFd.Signal(_kick.Fd);
        }

        /// <summary>Waits (bounded) for frame <paramref name="seq"/> from <paramref name="from"/> on the RX ring.</summary>
        public void ExpectFrom(MacAddress from, int seq)
        {
            var sw = Stopwatch.StartNew();
            ushort index = (ushort)(seq - _base);
            while (_rx.UsedIdx == index)
            {
                if (sw.Elapsed > TestFrontend.Timeout)
                    throw new TimeoutException($"{Endpoint.Name}: frame {seq} never arrived (datapath fault: {_datapath.Fault})");
                Thread.Yield();
            }
            Assert.Equal((ushort)(index + 1), _rx.UsedIdx);
            var (id, len) = _rx.UsedElem(index);
            Assert.Equal((uint)(VirtioNetHeader.SizeWithBuffers + FrameLength), len);
            var frame = _m.Span(_rxBufs[id] + VirtioNetHeader.SizeWithBuffers, FrameLength);
            Assert.Equal(Mac, MacAddress.Read(frame[..6]));
            Assert.Equal(from, MacAddress.Read(frame[6..12]));
            Assert.Equal(seq, BinaryPrimitives.ReadInt32BigEndian(frame[14..]));
            _rx.AddChain(new Seg(_rxBufs[_posted++ % _rx.Size], 2048, true));
            _rx.Kick();
        }

        public void Dispose()
        {
            try { _datapath.Detach(_attachment); } catch (Exception) { /* the datapath is going anyway */ }
            _h.Dispose();
            // (the rings' own kicks are the harness's too; a second Dispose is harmless)
            foreach (var k in _oldKicks) k.Dispose();
            _kick.Dispose();
        }
    }

    /// <summary>A namespace holding a veth pair (both ends up) whose one end is the lower.</summary>
    internal sealed class ThrowawayLower : IDisposable
    {
        public const string LowerName = "low0";
        private readonly TestNamespace _ns = new("mvkick");

        public ThrowawayLower()
        {
            try { _ns.AddVeth(LowerName, "ext0"); }
            catch
            {
                Dispose();
                throw;
            }
        }

        public string Name => _ns.Name;

        public void Dispose() => _ns.Dispose();
    }
}
