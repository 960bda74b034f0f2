// The options before the object (`mvtap -j -d link show m0`), as ip takes them.
namespace Mvtap.Cli;

internal sealed record GlobalOptions
{
    /// <summary>-s: 1 for statistics, 2 (-s -s) for the error breakdown too.</summary>
    public int Statistics { get; init; }
    public bool Details { get; init; }
    public bool Json { get; init; }
    public bool Pretty { get; init; }
    /// <summary>--kernel: carry link commands out on the real kernel through rtnetlink.</summary>
    public bool Kernel { get; init; }
    /// <summary>--run-dir DIR; null = MVTAP_RUN_DIR or /run/mvtap.</summary>
    public string? RunDir { get; init; }
    public bool Help { get; init; }
    public bool Version { get; init; }
}
