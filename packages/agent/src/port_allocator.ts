// Dyno ports from a configured range on the private address. A port is handed out only if it is
// not held by another dyno and can be bound right now.
import * as net from "node:net";

export class PortAllocator {
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly host: string,
  ) {
    this.next = min;
  }

  reserve(port: number): void {
    this.used.add(port);
  }

  free(port: number | undefined): void {
    if (port !== undefined) this.used.delete(port);
  }

  async allocate(): Promise<number> {
    const span = this.max - this.min + 1;
    for (let i = 0; i < span; i++) {
      const port = this.next;
      this.next = this.next >= this.max ? this.min : this.next + 1;
      if (this.used.has(port)) continue;
      this.used.add(port);
      if (await canBind(this.host, port)) return port;
      this.used.delete(port);
    }
    throw new Error(`no free dyno port in ${this.min}-${this.max}`);
  }
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}
