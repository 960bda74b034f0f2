// Where GsoSegmenter writes segments, one at a time, straight into the receiver's own buffer
// (a stream's output buffer, a vhost-user batch slot): no copy in between and no allocation.
// Implemented by structs and passed by ref with a generic constraint, as Forwarder does with
// IDeliverySink, so the calls are direct.
namespace Mvtap.Core.Frames;

public interface ISegmentSink
{
    /// <summary>Room for the next segment of <paramref name="length"/> bytes (the span may be
    /// longer), or an empty span when there is none.</summary>
    Span<byte> Reserve(int length);

    /// <summary>The segment written into the span <see cref="Reserve"/> returned last is
    /// complete: <paramref name="length"/> bytes, to be sent with <paramref name="header"/>.</summary>
    void Commit(int length, in VirtioNetHeader header);
}
