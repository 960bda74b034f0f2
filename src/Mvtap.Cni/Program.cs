// Entry point of the mvtap CNI plugin (installed as `mvtap` in the runtime's CNI bin directory).
using var stdout = Console.OpenStandardOutput();
using var stdin = Console.OpenStandardInput();
return Mvtap.Cni.CniPlugin.Run(Environment.GetEnvironmentVariable, stdin, stdout, Console.Error);
