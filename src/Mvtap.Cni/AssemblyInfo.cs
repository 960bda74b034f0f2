// The plugin runs on Linux only (network namespaces, rtnetlink, unix sockets).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
