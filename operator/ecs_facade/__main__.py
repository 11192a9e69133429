from ecs_facade.cli import main

raise SystemExit(main())
