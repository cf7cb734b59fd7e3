from labtrack.cli import main

raise SystemExit(main())
