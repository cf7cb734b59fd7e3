import './base.css';
import './charts.css';
import './panels.css';
import './remote.css';
