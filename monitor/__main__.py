from monitor.cli.entry import main

raise SystemExit(main())
