// Entry point of the `mvtap` executable: hands the arguments to MvtapCli and returns its exit status.
return Mvtap.Cli.MvtapCli.Run(args, Console.Out, Console.Error);
