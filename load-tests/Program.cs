Console.WriteLine("load-tests: not yet wired");
