// `mvtap demo`: the main job on an embedded default (see README).
namespace Mvtap.Cli;

public static class DemoCommand
{
    public static int Run(string[] args)
    {
        // demo: implemented by the core engineer
        return 0;
    }
}
