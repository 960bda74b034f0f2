// What software segmentation made of a GSO frame: every segment handed over, or why not.
namespace Mvtap.Core.Frames;

public enum GsoVerdict
{
    /// <summary>Every segment was written to the sink.</summary>
    Segmented,
    /// <summary>The GSO metadata does not describe the frame (gso_size 0, headers beyond the
    /// frame, not the protocol the type claims, a fragment): nothing was written.</summary>
    Malformed,
    /// <summary>Well formed, but a kind mvtap does not segment (legacy UFO over IPv6, IPv6
    /// extension headers): nothing was written.</summary>
    Unsupported,
    /// <summary>More segments than <see cref="GsoSegmenter.MaxSegments"/>: nothing was written.</summary>
    TooManySegments,
    /// <summary>The sink ran out of room part way: the segments before were written.</summary>
    SinkFull,
}
