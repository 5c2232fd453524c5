import type { Queue } from 'bullmq';
import type { Config } from '../config.js';
import type { SendJobData } from '../queues/send-queue.js';
import type { IncomingService } from '../services/incoming.js';
import type { AddressLookup, OutgoingService } from '../services/outgoing.js';
import type { Store } from '../store/store.js';

export interface RouteDeps {
  config: Config;
  store: Store;
  outgoing: OutgoingService;
  incoming: IncomingService;
  addressService: AddressLookup;
  queue: Queue<SendJobData>;
  /** The app's clock when a test sets one (routes that need "now" take it from here). */
  clock?: () => Date;
}
