Console.WriteLine("charger-bridge: standalone host not yet wired");
