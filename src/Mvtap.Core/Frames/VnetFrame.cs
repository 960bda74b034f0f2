// A frame on its way through the forwarding core: the Ethernet frame itself and the
// virtio-net header that came with it (all zero when the source had none).
namespace Mvtap.Core.Frames;

public readonly ref struct VnetFrame
{
    public readonly ReadOnlySpan<byte> Frame;
    public readonly VirtioNetHeader Vnet;

    public VnetFrame(ReadOnlySpan<byte> frame) { Frame = frame; Vnet = default; }
    public VnetFrame(ReadOnlySpan<byte> frame, VirtioNetHeader vnet) { Frame = frame; Vnet = vnet; }

    public int Length => Frame.Length;
    public MacAddress Destination => MacAddress.Read(Frame);
    public MacAddress Source => MacAddress.Read(Frame[6..]);
    public ushort EtherType => EthernetFrame.EtherType(Frame);
}
